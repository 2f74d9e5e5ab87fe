import Foundation
import HTTPTypes
import Hummingbird

/// A self-contained web page of the inspector (`serve`'s `/inspector`, `listen`'s `/`): one HTML document with one
/// inline style sheet and one inline script, served with a Content-Security-Policy that allows exactly those two by
/// their SHA-256 hashes and lets the script talk to its own origin only. Nothing is fetched from anywhere else, so it
/// works offline.
///
/// The document holds no data and needs no token: its script asks the origin's `/v1` API for everything, with the
/// Bearer token it reads from the URL fragment (`#token=…`, removed from the address bar at once and kept in
/// `sessionStorage`) or from a small form. Whatever the API returns is put in the page with `textContent` and
/// `createElement` (`InspectorPage.kitScript`'s `el`), never as markup, so a `<script>` in an order title is text.
public struct InspectorPage: Sendable {
    /// The document's bytes.
    public let html: [UInt8]
    /// The response headers: type, CSP, framing, sniffing, referrer and caching rules.
    public let headers: HTTPFields

    /// - Parameters:
    ///   - title: the document's title (static text, escaped here anyway).
    ///   - body: the static markup inside `<body>`, without data (ids the script fills in).
    ///   - style: the page's own CSS, appended to `kitStyle`.
    ///   - script: the page's own script, appended to `kitScript` (which defines `UCPInspector`).
    public init(title: String, body: String, style: String, script: String) {
        let css = Self.kitStyle + style
        let js = Self.kitScript + script
        let document = """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <meta name="referrer" content="no-referrer">
            <title>\(ConsentPage.escape(title))</title>
            <style>\(css)</style>
            </head>
            <body>
            \(body)
            <script>\(js)</script>
            </body>
            </html>

            """
        html = Array(document.utf8)
        var headers: HTTPFields = [:]
        headers[.contentType] = "text/html; charset=utf-8"
        headers[Self.field("Content-Security-Policy")] =
            "default-src 'none'; script-src '\(Self.hash(js))'; style-src '\(Self.hash(css))'; "
            + "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
        headers[Self.field("X-Frame-Options")] = "DENY"
        headers[Self.field("X-Content-Type-Options")] = "nosniff"
        headers[Self.field("Referrer-Policy")] = "no-referrer"
        headers[.cacheControl] = "no-store"
        self.headers = headers
    }

    /// The page as a response.
    public func response() -> Response {
        Response(status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(bytes: html)))
    }

    private static func field(_ name: String) -> HTTPField.Name {
        guard let field = HTTPField.Name(name) else { preconditionFailure("\(name) is not a field name") }
        return field
    }

    /// `sha256-<base64>` of the text's UTF-8 bytes, computed by OpenSSL: a CSP source for an inline element.
    static func hash(_ text: String) -> String {
        "sha256-" + Data(DigestAlgorithm.sha256.hash(Array(text.utf8))).base64EncodedString()
    }

    /// The style every inspector page shares: a top bar, a list pane and a detail pane, badges, code blocks.
    public static let kitStyle = """
        :root{--fg:#1d2330;--muted:#5b6475;--line:#dfe3ea;--bg:#f6f7f9;--card:#fff;--ok:#16794c;--okbg:#e3f5ec;\
        --bad:#b42318;--badbg:#fdecea;--wait:#8a5a00;--waitbg:#fff4d6;--accent:#2f5bd3}
        *{box-sizing:border-box}
        body{margin:0;font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:var(--fg);\
        background:var(--bg)}
        header{display:flex;gap:12px;align-items:center;flex-wrap:wrap;padding:10px 16px;background:var(--card);\
        border-bottom:1px solid var(--line)}
        header h1{font-size:16px;margin:0 12px 0 0}
        header label{color:var(--muted);font-size:12px;display:flex;gap:4px;align-items:center}
        input,select,button{font:inherit;padding:4px 8px;border:1px solid var(--line);border-radius:6px;\
        background:#fff;color:var(--fg)}
        button{cursor:pointer;background:var(--accent);color:#fff;border-color:var(--accent)}
        button:disabled{opacity:.45;cursor:default}
        button.secondary{background:#fff;color:var(--accent)}
        main{display:grid;grid-template-columns:minmax(320px,44%) 1fr;height:calc(100vh - 58px)}
        #list{overflow:auto;border-right:1px solid var(--line);background:var(--card)}
        #detail{overflow:auto;padding:16px 20px}
        table{border-collapse:collapse;width:100%}
        th,td{text-align:left;padding:6px 10px;border-bottom:1px solid var(--line);vertical-align:top}
        th{position:sticky;top:0;background:var(--card);color:var(--muted);font-weight:600;font-size:12px}
        tbody tr{cursor:pointer}
        tbody tr:hover{background:#f0f3fa}
        tbody tr.selected{background:#e6ecfb}
        .badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;\
        white-space:nowrap}
        .badge.ok{color:var(--ok);background:var(--okbg)}
        .badge.bad{color:var(--bad);background:var(--badbg)}
        .badge.wait{color:var(--wait);background:var(--waitbg)}
        .muted{color:var(--muted)}
        .mono,pre,code{font-family:ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;font-size:12px}
        pre{background:#0f172a;color:#e2e8f0;padding:10px 12px;border-radius:8px;overflow:auto;max-height:420px;\
        white-space:pre-wrap;word-break:break-all}
        h2{font-size:15px;margin:18px 0 8px}
        h2:first-child{margin-top:0}
        dl{display:grid;grid-template-columns:max-content 1fr;gap:4px 14px;margin:0}
        dt{color:var(--muted)}
        dd{margin:0;word-break:break-all}
        .headers td:first-child{white-space:nowrap;color:var(--muted)}
        .headers td{font-family:ui-monospace,Menlo,Consolas,monospace;font-size:12px;word-break:break-all}
        ol.timeline{list-style:none;padding:0;margin:0;border-left:2px solid var(--line)}
        ol.timeline li{position:relative;padding:4px 0 10px 16px}
        ol.timeline li::before{content:"";position:absolute;left:-7px;top:8px;width:12px;height:12px;\
        border-radius:50%;background:var(--line)}
        ol.timeline li.ok::before{background:var(--ok)}
        ol.timeline li.bad::before{background:var(--bad)}
        .status{font-size:12px}
        .status.live{color:var(--ok)}
        .status.down{color:var(--bad)}
        .empty{padding:24px;color:var(--muted)}
        .actions{display:flex;gap:8px;align-items:center;flex-wrap:wrap;margin:10px 0}
        .error{color:var(--bad)}
        #token-form{padding:24px;max-width:520px}
        #token-form input{width:100%;margin:8px 0}
        [hidden]{display:none !important}

        """

    /// The script every inspector page shares, defining `UCPInspector`:
    /// - `el(tag, props, ...children)`: an element; `props` are set as properties (`className`, `hidden`, …) or, for
    ///   `data-*`/`aria-*`/`title`, attributes; children are nodes or strings (always text nodes).
    /// - `api(path, options)`: a `fetch` to the same origin with the Bearer token; resolves to the parsed JSON, or
    ///   rejects with `{status, code, content}`; a 401 forgets the token and shows the token form.
    /// - `stream(path, onEvent, onState)`: reads Server-Sent Events with `fetch` (EventSource cannot send a token),
    ///   reconnecting with `Last-Event-ID`; `onEvent(type, data)` gets parsed JSON; `onState(true|false)` says
    ///   whether it is connected.
    /// - `start(main)`: runs `main()` once a token is known (from `#token=…`, `sessionStorage`, or the form); a token
    ///   given in the form after a refusal reloads the page (which then runs `main()` once, with that token).
    /// - `time(iso)`: a short local time; `badge(text, kind)`: a badge element.
    public static let kitScript = """
        "use strict";
        const UCPInspector = (() => {
          const tokenKey = "ucpsim-inspector-token";
          let token = null;
          function readToken() {
            // The raw text after token= (not URLSearchParams, which reads "+" as a space), percent-decoded.
            const match = /(?:^|&)token=([^&]*)/.exec(location.hash.slice(1));
            let given = null;
            if (match) {
              try { given = decodeURIComponent(match[1]); } catch (error) { given = match[1]; }
            }
            if (given) {
              sessionStorage.setItem(tokenKey, given);
              history.replaceState(null, "", location.pathname + location.search);
            }
            token = sessionStorage.getItem(tokenKey);
          }
          function el(tag, props, ...children) {
            const node = document.createElement(tag);
            for (const [key, value] of Object.entries(props || {})) {
              if (value === undefined || value === null) continue;
              if (key.startsWith("data-") || key.startsWith("aria-") || key === "title" || key === "role") {
                node.setAttribute(key, String(value));
              } else {
                node[key] = value;
              }
            }
            for (const child of children.flat()) {
              if (child === undefined || child === null || child === false) continue;
              node.append(child instanceof Node ? child : document.createTextNode(String(child)));
            }
            return node;
          }
          function badge(text, kind) { return el("span", {className: "badge " + kind}, text); }
          function time(iso) {
            if (!iso) return "";
            const date = new Date(iso);
            return isNaN(date) ? String(iso) : date.toLocaleTimeString([], {hour12: false}) + "." +
              String(date.getMilliseconds()).padStart(3, "0");
          }
          function askForToken(message) {
            sessionStorage.removeItem(tokenKey);
            token = null;
            const form = document.getElementById("token-form");
            document.getElementById("app").hidden = true;
            form.hidden = false;
            document.getElementById("token-message").textContent = message || "";
          }
          async function api(path, options) {
            const request = Object.assign({}, options || {});
            request.headers = Object.assign({"Authorization": "Bearer " + token}, request.headers || {});
            const response = await fetch(path, request);
            const text = await response.text();
            let body = null;
            try { body = text ? JSON.parse(text) : null; } catch (error) { body = null; }
            if (response.status === 401) askForToken("The token was refused: give the API token.");
            if (!response.ok) {
              throw {status: response.status, code: body && body.code, content: (body && body.content) || text};
            }
            return body;
          }
          function stream(path, onEvent, onState) {
            let lastID = null;
            let delay = 1000;
            async function connect() {
              const headers = {"Authorization": "Bearer " + token, "Accept": "text/event-stream"};
              if (lastID !== null) headers["Last-Event-ID"] = lastID;
              try {
                const response = await fetch(path, {headers: headers, cache: "no-store"});
                if (response.status === 401) { askForToken("The token was refused: give the API token."); return; }
                if (!response.ok || !response.body) throw new Error("HTTP " + response.status);
                onState(true);
                delay = 1000;
                const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
                let buffer = "";
                for (;;) {
                  const {value, done} = await reader.read();
                  if (done) break;
                  buffer += value.replace(/\\r\\n?/g, "\\n");
                  let end;
                  while ((end = buffer.indexOf("\\n\\n")) >= 0) {
                    const block = buffer.slice(0, end);
                    buffer = buffer.slice(end + 2);
                    let type = "message", data = [], id = null;
                    for (const line of block.split("\\n")) {
                      if (line.startsWith(":")) continue;
                      const colon = line.indexOf(":");
                      const field = colon < 0 ? line : line.slice(0, colon);
                      let value = colon < 0 ? "" : line.slice(colon + 1);
                      if (value.startsWith(" ")) value = value.slice(1);
                      if (field === "event") type = value;
                      else if (field === "data") data.push(value);
                      else if (field === "id") id = value;
                      else if (field === "retry" && /^\\d+$/.test(value)) delay = Number(value);
                    }
                    if (id !== null) lastID = id;
                    if (data.length === 0) continue;
                    let parsed = null;
                    try { parsed = JSON.parse(data.join("\\n")); } catch (error) { continue; }
                    onEvent(type, parsed);
                  }
                }
              } catch (error) {
                // Falls through to reconnect.
              }
              onState(false);
              setTimeout(connect, delay);
            }
            connect();
          }
          let started = false;
          function start(main) {
            readToken();
            const form = document.getElementById("token-form");
            form.addEventListener("submit", (event) => {
              event.preventDefault();
              const value = document.getElementById("token-input").value.trim();
              if (!value) return;
              sessionStorage.setItem(tokenKey, value);
              // A page that already ran (its token was refused since) starts afresh with the new one: its
              // listeners and stream belong to the old token.
              if (started) { location.reload(); return; }
              token = value;
              form.hidden = true;
              document.getElementById("app").hidden = false;
              started = true;
              main();
            });
            if (token) { started = true; main(); } else askForToken("");
          }
          return {el, badge, time, api, stream, start};
        })();

        """

    /// The markup of the token form every page carries (shown when no token is known or the API refuses it); the
    /// page's own markup goes in an element with id `app`.
    public static let tokenForm = """
        <form id="token-form" hidden>
        <h1>API token</h1>
        <p id="token-message" class="error"></p>
        <p class="muted">Open the link printed on stderr at start-up (it carries the token after #token=), or paste the \
        token here. It is kept in this tab only.</p>
        <input id="token-input" type="password" autocomplete="off" aria-label="API token">
        <button type="submit">Open</button>
        </form>
        """
}
