import { describe, it } from "@effect/vitest"
import { Either, FastCheck as fc } from "effect"
import { assert } from "vitest"
import * as RelPath from "../src/RelPath.js"

describe("RelPath", () => {
  it("accepts plain relative paths and the root", () => {
    for (const p of ["", "a", "a/b", "a b/c.txt", "ünï/cødé"]) {
      assert.deepStrictEqual(RelPath.parse(p), Either.right(p as RelPath.RelPath))
    }
  })

  it("normalises ./ prefixes, trailing slashes and NFD to NFC", () => {
    assert.deepStrictEqual(RelPath.parse("./a/b/"), Either.right("a/b" as RelPath.RelPath))
    assert.deepStrictEqual(RelPath.parse("."), Either.right("" as RelPath.RelPath))
    const nfd = "cafe\u0301"
    assert.deepStrictEqual(RelPath.parse(nfd), Either.right("caf\u00e9" as RelPath.RelPath))
  })

  it("refuses anything that could escape the location", () => {
    for (const p of ["..", "../x", "a/../../x", "/etc/passwd", "a//b", "a/./b", "a\\..\\b", "a\0b", "x".repeat(5000)]) {
      const result = RelPath.parse(p)
      assert.isTrue(Either.isLeft(result), p)
      if (Either.isLeft(result)) assert.strictEqual(result.left.reason, "Invalid")
    }
  })

  it.prop("join, parent and basename agree", [fc.array(fc.stringMatching(/^[a-z0-9 ._-]{1,8}$/).filter((s) => s !== "." && s !== ".."), { minLength: 1, maxLength: 6 })], ([segments]) => {
    let path = RelPath.root
    for (const s of segments) path = RelPath.join(path, s)
    assert.isTrue(Either.isRight(RelPath.parse(path)))
    assert.strictEqual(RelPath.basename(path), segments[segments.length - 1])
    assert.strictEqual(RelPath.parent(path), segments.slice(0, -1).join("/"))
    assert.isTrue(RelPath.isWithin(path, RelPath.parent(path)))
    assert.isFalse(RelPath.isWithin(RelPath.parent(path), path))
  })

  it("isWithin does not confuse sibling prefixes", () => {
    assert.isFalse(RelPath.isWithin("ab/c" as RelPath.RelPath, "a" as RelPath.RelPath))
    assert.isTrue(RelPath.isWithin("a/c" as RelPath.RelPath, "a" as RelPath.RelPath))
  })
})
