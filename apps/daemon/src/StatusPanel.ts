/**
 * The status panel served: `GET /panel` answers the page (`PanelPage`) to a browser that holds
 * the panel's cookie; `GET /panel?token=<token>` (what `conduit panel` opens) checks the token,
 * sets the cookie and redirects to `/panel`, so the token does not stay in the address bar or
 * the history. Anything else under `/panel`, or without the token, is refused: 401 with a page
 * saying how to open the panel.
 *
 * The cookie holds the token itself, `HttpOnly` (the page's script cannot read it) and
 * `SameSite=Strict` (another site's page cannot make the browser send it, so it cannot drive
 * the API). The API accepts it in place of the bearer token (`ControlApi.Authorization`).
 *
 * @since 0.1.0
 */
import { LibraryDatabase } from "@conduit/index"
import { HttpServerRequest, HttpServerResponse } from "@effect/platform"
import { Effect } from "effect"
import * as ControlApi from "./ControlApi.js"
import { sameToken } from "./DaemonFiles.js"
import { Lifecycle } from "./Lifecycle.js"
import * as PanelPage from "./PanelPage.js"

/** Where the panel is. */
export const PATH = "/panel"

/** Whether a request's URL is the panel's (or the bare root, which leads to it). */
export const handles = (url: string): boolean => {
  const path = url.split("?", 1)[0]!
  return path === "/" || path === PATH || path === `${PATH}/`
}

/** Headers of every panel answer: never cached, never framed, no referrer, only its own script. */
const headers = {
  "cache-control": "no-store",
  "x-frame-options": "DENY",
  "referrer-policy": "no-referrer",
  "content-security-policy": "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
}

const HTML = "text/html; charset=utf-8"

/** The panel's HTTP app (for requests `handles` accepts). */
export const app = Effect.gen(function* () {
  const lifecycle = yield* Lifecycle
  const db = yield* LibraryDatabase.LibraryDatabase
  const page = PanelPage.html({ name: db.self.name, version: lifecycle.version })
  const refused = HttpServerResponse.text(PanelPage.refused, { status: 401, contentType: HTML, headers })

  return Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    if (request.method !== "GET" && request.method !== "HEAD") {
      return HttpServerResponse.text("the panel is read with GET\n", { status: 405, headers: { ...headers, allow: "GET, HEAD" } })
    }
    const url = new URL(request.url, "http://127.0.0.1")
    const given = url.searchParams.get("token")
    if (given !== null) {
      if (!sameToken(given, lifecycle.token)) return refused
      return yield* HttpServerResponse.empty({ status: 303, headers: { ...headers, location: PATH } }).pipe(
        HttpServerResponse.setCookie(ControlApi.PANEL_COOKIE, lifecycle.token, { httpOnly: true, sameSite: "strict", path: "/" }),
        Effect.orDie
      )
    }
    const cookie = request.cookies[ControlApi.PANEL_COOKIE]
    if (cookie === undefined || !sameToken(cookie, lifecycle.token)) return refused
    if (url.pathname !== PATH) return HttpServerResponse.empty({ status: 303, headers: { ...headers, location: PATH } })
    return HttpServerResponse.text(page, { contentType: HTML, headers })
  })
})
