/**
 * Block arithmetic and the file and compression calls both sides of a transfer use.
 */
import { Hasher } from "@conduit/index"
import type * as Fs from "node:fs/promises"
import * as Zlib from "node:zlib"
import { COMPRESSION_LEVEL, DEFAULT_BLOCK_SIZE, MAX_BLOCK_SIZE, MAX_BLOCKS, MIN_BLOCK_SIZE } from "../constants.js"

/** BLAKE3 of no bytes: the hash of an empty file. */
export const EMPTY_HASH = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262"

/** BLAKE3 of bytes (≤ 1 MiB per update, on this thread). */
export const hashBlock = (bytes: Uint8Array): string => Hasher.hashBytes(bytes)

/**
 * The block size for a file: `preferred` (default 1 MiB, clamped to a power of two within the
 * bounds), doubled until the file has at most `MAX_BLOCKS` blocks.
 */
export const chooseBlockSize = (size: number, preferred: number = DEFAULT_BLOCK_SIZE): number => {
  let blockSize = MIN_BLOCK_SIZE
  while (blockSize < Math.min(preferred, MAX_BLOCK_SIZE)) blockSize *= 2
  while (Math.ceil(size / blockSize) > MAX_BLOCKS && blockSize < MAX_BLOCK_SIZE) blockSize *= 2
  return blockSize
}

/** Reads exactly `length` bytes at `position` into `into`; returns how many there were (fewer at the end of the file). */
export const readFully = async (file: Fs.FileHandle, into: Uint8Array, length: number, position: number): Promise<number> => {
  let filled = 0
  while (filled < length) {
    const { bytesRead } = await file.read(into, filled, length - filled, position + filled)
    if (bytesRead === 0) break
    filled += bytesRead
  }
  return filled
}

/** Writes all of `data` at `position`. */
export const writeFully = async (file: Fs.FileHandle, data: Uint8Array, position: number): Promise<void> => {
  let written = 0
  while (written < data.byteLength) {
    const { bytesWritten } = await file.write(data, written, data.byteLength - written, position + written)
    written += bytesWritten
  }
}

/** Deflates a block at the fastest level (on the libuv thread pool). */
export const deflate = (data: Uint8Array): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    Zlib.deflateRaw(data, { level: COMPRESSION_LEVEL }, (error, out) => (error === null ? resolve(out) : reject(error)))
  )

/** Inflates a block, refusing (rejecting) output beyond `maxBytes`: a zip bomb stops there. */
export const inflate = (data: Uint8Array, maxBytes: number): Promise<Buffer> =>
  new Promise((resolve, reject) =>
    Zlib.inflateRaw(data, { maxOutputLength: Math.max(1, maxBytes) }, (error, out) => (error === null ? resolve(out) : reject(error)))
  )
