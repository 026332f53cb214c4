/**
 * Reads a channel one message at a time: the conversation is a sequence (`Hello`, then
 * `Want`, then rounds), so each side asks for the next message where it expects one.
 */
import { Chunk, Effect, Option, type Scope, Stream } from "effect"
import type { PeerChannel } from "../PeerChannel.js"
import * as Protocol from "../Protocol.js"
import type { ReplicationError } from "../ReplicationError.js"

/** The messages of one channel, in order. */
export interface MessageReader {
  /** The next message, or null once the peer closed its side. */
  readonly next: Effect.Effect<Protocol.Message | null, ReplicationError>
  /** Names the peer in decoding errors from now on. */
  readonly setPeer: (peer: string) => void
}

/** Starts reading the channel; stops when the scope closes. */
export const make = (channel: PeerChannel): Effect.Effect<MessageReader, never, Scope.Scope> =>
  Effect.gen(function* () {
    const pull = yield* Stream.toPull(channel.incoming)
    let buffered: Array<Uint8Array> = []
    let ended = false
    let peer: string | undefined

    const nextFrame: Effect.Effect<Uint8Array | null, ReplicationError> = Effect.suspend(() => {
      if (buffered.length > 0) return Effect.succeed(buffered.shift()!)
      if (ended) return Effect.succeed(null)
      return Effect.matchEffect(pull, {
        onFailure: Option.match({
          onNone: () => {
            ended = true
            return Effect.succeed(null)
          },
          onSome: (error) => Effect.fail(error)
        }),
        onSuccess: (chunk) => {
          buffered = Array.from(Chunk.toReadonlyArray(chunk))
          return nextFrame
        }
      })
    })

    return {
      next: Effect.flatMap(nextFrame, (frame) => (frame === null ? Effect.succeed(null) : Protocol.decode(frame, peer))),
      setPeer: (p) => {
        peer = p
      }
    }
  })
