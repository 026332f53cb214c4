/**
 * A typed client of a daemon's control API, derived from `ControlApi.Api`: every call sends
 * the bearer token and decodes the answer with the API's schemas. It uses the global `fetch`
 * (`FetchHttpClient`), so it adds nothing native to a client's bundle.
 *
 * @since 0.1.0
 */
import { FetchHttpClient, HttpApiClient, HttpClient, HttpClientRequest } from "@effect/platform"
import { Effect } from "effect"
import { Api } from "./ControlApi.js"

/** The client of the control API (one method per endpoint, grouped as `daemon` and `peers`). */
export type Client = Effect.Effect.Success<ReturnType<typeof make>>

/** A client of the control API at `url` (`http://127.0.0.1:PORT`) that authenticates with `token`. */
export const make = (url: string, token: string) =>
  HttpApiClient.make(Api, {
    baseUrl: url,
    transformClient: HttpClient.mapRequest(HttpClientRequest.bearerToken(token))
  }).pipe(Effect.provide(FetchHttpClient.layer))
