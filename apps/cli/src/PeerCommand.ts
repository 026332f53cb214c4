/**
 * `conduit peer add | list | rm | pull`: the devices this one is paired with, through the
 * running daemon (see DaemonCommand.ts). Pairing is explicit on both sides: each device adds
 * the other's peer id and addresses (`conduit daemon status` shows them). `pull` replicates a
 * paired peer's index into this library until it is caught up.
 *
 * @since 0.1.0
 */
import type { ControlApi } from "@conduit/daemon/api"
import { Args, Command, Options } from "@effect/cli"
import { Effect, Option } from "effect"
import * as DaemonCommand from "./DaemonCommand.js"
import * as Format from "./Format.js"
import * as Output from "./Output.js"

const peerId = Args.text({ name: "PEERID" }).pipe(Args.withDescription("the peer's libp2p peer id (12D3KooW…)"))

/** Encodes a peer. */
const peerJson = (p: ControlApi.Peer) => ({
  peerId: p.peerId,
  name: p.name,
  addresses: p.addresses,
  pairedAt: p.pairedAt,
  revoked: p.revoked,
  connected: p.connected ?? null,
  lastError: p.lastError ?? null
})

const add = Command.make("add", {
  peerId,
  addresses: Options.text("addr").pipe(
    Options.withPseudoName("MULTIADDR"),
    Options.withDescription("an address of the peer (from its 'conduit daemon status'), repeatable, at least one"),
    Options.atLeast(1)
  ),
  name: Options.text("name").pipe(
    Options.withPseudoName("NAME"),
    Options.withDescription("a name for the peer (default: from its peer id)"),
    Options.optional
  ),
  json: Output.json
}, (args) =>
  Effect.gen(function* () {
    const connection = yield* DaemonCommand.connect
    const peer = yield* DaemonCommand.request(connection, (c) =>
      c.peers.pair({ payload: { peerId: args.peerId, addresses: args.addresses, ...Option.match(args.name, { onNone: () => ({}), onSome: (name) => ({ name }) }) } }))
    if (args.json) return yield* Output.printJson({ peer: peerJson(peer) })
    yield* Output.line(`paired with ${peer.name} (${peer.peerId}); the peer must add this device too`)
  }).pipe(Output.reportFailures(args))).pipe(
  Command.withDescription("Pair with a device: serve it and reach it at the given addresses (it must add this device too).")
)

const list = Command.make("list", { json: Output.json }, (args) =>
  Effect.gen(function* () {
    const connection = yield* DaemonCommand.connect
    const { peers } = yield* DaemonCommand.request(connection, (c) => c.peers.list())
    if (args.json) return yield* Output.printJson({ peers: peers.map(peerJson) })
    if (peers.length === 0) return yield* Output.note("no paired peers yet; pair one with 'conduit peer add PEERID --addr MULTIADDR'")
    yield* Effect.forEach(
      Format.table([
        ["PEER ID", "NAME", "STATUS", "PAIRED", "ADDRESSES"],
        ...peers.map((p) => [
          p.peerId,
          p.name,
          p.revoked ? "revoked" : p.connected === true ? "connected" : p.connected === false ? "unreachable" : "paired",
          Format.localTime(new Date(p.pairedAt)),
          p.addresses.join(" ")
        ])
      ]),
      Output.line,
      { discard: true }
    )
  }).pipe(Output.reportFailures(args))).pipe(
  Command.withDescription("List the paired devices (revoked ones too) with their addresses.")
)

const rm = Command.make("rm", { peerId, json: Output.json }, (args) =>
  Effect.gen(function* () {
    const connection = yield* DaemonCommand.connect
    const peer = yield* DaemonCommand.request(connection, (c) => c.peers.revoke({ path: { peerId: args.peerId } }))
    if (args.json) return yield* Output.printJson({ revoked: peerJson(peer) })
    yield* Output.line(`revoked ${peer.name} (${peer.peerId}): it is refused from now on`)
  }).pipe(Output.reportFailures(args))).pipe(
  Command.withDescription("Revoke a paired device: its connections are closed and refused from now on.")
)

const pull = Command.make("pull", { peerId, json: Output.json }, (args) =>
  Effect.gen(function* () {
    const connection = yield* DaemonCommand.connect
    const s = yield* DaemonCommand.request(connection, (c) => c.peers.pull({ path: { peerId: args.peerId } }))
    if (args.json) {
      return yield* Output.printJson({
        pull: {
          peerId: s.peerId,
          device: s.device,
          deviceName: s.deviceName,
          fromSeq: s.fromSeq,
          batches: s.batches,
          entries: s.entries,
          firstSeq: s.firstSeq,
          lastSeq: s.lastSeq,
          watermark: s.watermark,
          caughtUp: s.caughtUp,
          durationMs: s.durationMs
        }
      })
    }
    yield* Output.line(
      `pulled ${s.entries} ${s.entries === 1 ? "entry" : "entries"} from ${s.deviceName} (${s.peerId}) in ${Format.duration(s.durationMs)}: ` +
        `watermark ${s.watermark}, ${s.caughtUp ? "caught up" : "not caught up"}`
    )
  }).pipe(Output.reportFailures(args))).pipe(
  Command.withDescription("Replicate a paired device's index into this library, from where the last pull stopped, until caught up.")
)

/** `conduit peer`. */
export const command = Command.make("peer").pipe(
  Command.withDescription("The devices this one is paired with (through the daemon): add, list, rm, pull."),
  Command.withSubcommands([add, list, rm, pull])
)
