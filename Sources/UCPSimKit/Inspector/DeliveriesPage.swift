import Hummingbird

/// `serve`'s inspector page, `GET /inspector`: the shop's webhook deliveries arriving live, filters, and a
/// delivery's panel (order snapshot, request headers, signature base, body, attempts on a timeline) with Resend and
/// Redeliver.
///
/// The document is static (an `InspectorPage`): it holds the shop's name and base URL and no delivery data, so it
/// needs no token. Its script reads everything from the `/v1` API with the Bearer token (`#token=…` or the form):
/// `GET /v1/deliveries` (filters, pages), `GET /v1/deliveries/{id}`, `POST …/resend|redeliver`, `GET /v1/webhooks`
/// (the subscription filter's choices) and `GET /v1/events/stream` (live rows). The list keeps at most 200 rows.
public struct DeliveriesPage: Sendable {
    /// The most rows the page keeps; older ones drop off and "older…" pages them back in.
    public static let rowLimit = 200

    /// The document and its headers.
    public let page: InspectorPage

    /// - Parameters:
    ///   - shopName: the shop file's name, shown in the header.
    ///   - baseURL: the shop's base URL, shown in the header.
    public init(shopName: String, baseURL: String) {
        let types = EventType.names.map {
            "<option value=\"\(ConsentPage.escape($0))\">\(ConsentPage.escape($0))</option>"
        }.joined()
        let body = """
            \(InspectorPage.tokenForm)
            <div id="app">
            <header>
            <h1>\(ConsentPage.escape(shopName)) <span class="muted">· deliveries</span></h1>
            <span class="muted mono" id="base-url">\(ConsentPage.escape(baseURL))</span>
            <span id="connection" class="status down">disconnected</span>
            <label>status <select id="filter-status"><option value="">any</option>\
            <option value="pending">pending</option><option value="delivered">delivered</option>\
            <option value="dead">dead</option></select></label>
            <label>order <input id="filter-order" size="12" placeholder="ord_…" autocomplete="off"></label>
            <label>event <select id="filter-type"><option value="">any</option>\(types)</select></label>
            <label>subscription <select id="filter-subscription"><option value="">any</option></select></label>
            </header>
            <main>
            <section id="list">
            <table id="deliveries"><thead><tr><th>time</th><th>status</th><th>event</th><th>order</th>\
            <th>subscription</th><th>attempts</th><th>HTTP</th></tr></thead><tbody id="rows"></tbody></table>
            <p id="list-empty" class="empty">No deliveries yet. They appear here as the shop sends them.</p>
            <p id="list-error" class="error"></p>
            <div class="actions list-actions"><button id="older" type="button" class="secondary" hidden>older…</button>\
            <button id="newest" type="button" class="secondary" hidden>newer…</button>\
            <span id="list-note" class="muted"></span></div>
            </section>
            <section id="detail"><p class="empty">Select a delivery to see its request, attempts and order.</p>\
            </section>
            </main>
            </div>
            """
        page = InspectorPage(
            title: "\(shopName) · deliveries",
            body: body,
            style: Self.style,
            script: Self.script.replacingOccurrences(of: "ROW_LIMIT", with: String(Self.rowLimit))
        )
    }

    /// Adds `GET /inspector`.
    public func addRoutes(to router: Router<BasicRequestContext>) {
        let page = page
        router.get("/inspector") { _, _ in page.response() }
    }

    static let style = """
        #app{display:flex;flex-direction:column;height:100vh}
        #app main{flex:1;min-height:0;height:auto;grid-template-columns:minmax(460px,50%) 1fr}
        #filter-subscription{max-width:200px}
        header select,header input{font-size:12px;padding:3px 6px}
        #base-url{margin-right:auto;font-size:11px}
        #rows td{white-space:nowrap;padding:5px 8px;font-size:13px}
        #deliveries th{padding:6px 8px}
        #rows td.sub{max-width:170px;overflow:hidden;text-overflow:ellipsis}
        #rows td.sub .muted{display:block;font-size:11px}
        .list-actions{padding:0 10px}
        .result-ok{color:var(--ok)}
        #resend-url{min-width:260px}
        ol.timeline .excerpt{margin-top:2px;white-space:pre-wrap;word-break:break-all}

        """

    /// The page's own script (after the kit's): the list, the live stream, the panel.
    static let script = #"""
        (() => {
          const {el, badge, time, api, stream, start} = UCPInspector;
          const rowLimit = ROW_LIMIT;
          const pageSize = 50;
          const byId = (id) => document.getElementById(id);
          const tbody = byId("rows");
          // The rows shown, newest first: {id, data, node, from}; `from` is the cursor of the page it came in
          // ("" for the first page and live arrivals).
          let rows = [];
          const rowsById = new Map();
          let nextCursor = null;
          // Rows fell off the bottom (live arrivals pushed them out): "older…" starts again from the last row's page.
          let trimmed = false;
          // "older…" dropped the newest rows: live arrivals are counted, not shown, until "newer…".
          let atTop = true;
          let missed = 0;
          let generation = 0;
          let loading = false;
          let held = [];
          let selected = null;

          // The filters of the list shown (the inputs' values when it was loaded: typing is not yet filtering).
          let applied = {};
          function filters() {
            return {
              status: byId("filter-status").value,
              order: byId("filter-order").value.trim(),
              event_type: byId("filter-type").value,
              subscription: byId("filter-subscription").value,
            };
          }
          function listPath(cursor, size) {
            const params = new URLSearchParams();
            for (const [name, value] of Object.entries(applied)) if (value) params.set(name, value);
            if (cursor) params.set("cursor", cursor);
            params.set("limit", String(size));
            return "/v1/deliveries?" + params.toString();
          }
          function matches(delivery) {
            const wanted = applied;
            return (!wanted.status || delivery.status === wanted.status) &&
              (!wanted.order || delivery.order_id === wanted.order) &&
              (!wanted.event_type || delivery.event_type === wanted.event_type) &&
              (!wanted.subscription || delivery.subscription === wanted.subscription);
          }
          function describe(error) {
            if (error && error.status) {
              return "HTTP " + error.status + (error.code ? " " + error.code : "") + ": " + (error.content || "");
            }
            return "the shop did not answer (" + ((error && error.message) || String(error)) + ")";
          }
          // A local time of day; milliseconds only when the timestamp has them (occurred_at has whole seconds).
          function clock(iso) {
            return /\.\d+Z$/.test(iso || "") ? time(iso) : time(iso).replace(/\.000$/, "");
          }
          function statusBadge(status) {
            return badge(status, status === "delivered" ? "ok" : status === "dead" ? "bad" : "wait");
          }
          function lastHTTP(delivery) {
            const last = delivery.last_attempt;
            if (!last) return "";
            return last.response_status === null || last.response_status === undefined ? "error" :
              String(last.response_status);
          }
          function rowNode(delivery) {
            return el("tr", {"data-id": delivery.id, className: selected && selected.id === delivery.id ? "selected" : ""},
              el("td", {className: "mono", title: delivery.occurred_at}, clock(delivery.occurred_at)),
              el("td", {}, statusBadge(delivery.status)),
              el("td", {}, delivery.event_type),
              el("td", {className: "mono"}, delivery.order_id),
              el("td", {className: "sub", title: delivery.url},
                el("span", {className: "mono"}, delivery.subscription || "--webhook-url"),
                el("span", {className: "muted"}, delivery.dialect)),
              el("td", {}, String(delivery.attempt_count)),
              el("td", {className: "mono", title: (delivery.last_attempt && delivery.last_attempt.error) || ""},
                lastHTTP(delivery)));
          }
          function drop(row) {
            row.node.remove();
            rowsById.delete(row.id);
          }
          function chrome() {
            byId("list-empty").hidden = rows.length > 0;
            byId("older").hidden = !(rows.length > 0 && (trimmed || nextCursor));
            byId("older").disabled = false;
            byId("newest").hidden = atTop;
            byId("newest").textContent = missed > 0 ? "newer… (" + missed + " arrived)" : "newer…";
            byId("list-note").textContent = rows.length + " shown" + (rows.length >= rowLimit ? " (the latest " +
              rowLimit + " at most)" : "");
          }
          // Appends deliveries (older than every row shown) at the bottom, keeping at most rowLimit rows.
          function append(list, from) {
            const fragment = document.createDocumentFragment();
            for (const delivery of list) {
              if (rowsById.has(delivery.id)) continue;
              const row = {id: delivery.id, data: delivery, node: rowNode(delivery), from: from};
              fragment.append(row.node);
              rows.push(row);
              rowsById.set(row.id, row);
            }
            tbody.append(fragment);
            while (rows.length > rowLimit) {
              drop(rows.shift());
              atTop = false;
            }
          }
          // A delivery from the stream: updated in place, removed when it no longer matches, added at the top.
          function upsert(delivery) {
            const row = rowsById.get(delivery.id);
            if (row) {
              if (!matches(delivery)) {
                drop(row);
                rows.splice(rows.indexOf(row), 1);
              } else {
                row.data = delivery;
                const node = rowNode(delivery);
                row.node.replaceWith(node);
                row.node = node;
              }
            } else if (matches(delivery)) {
              // New deliveries go at the top; one resent from further back (now matching) takes its place by time,
              // as the listing keeps it, or is left to "older…" when that place is on a page not shown.
              const when = delivery.occurred_at || "";
              const at = rows.findIndex((row) => (row.data.occurred_at || "") <= when);
              if (at === 0 && !atTop) {
                missed += 1;
              } else if (at >= 0 || !(trimmed || nextCursor)) {
                const index = at >= 0 ? at : rows.length;
                const from = index > 0 ? rows[index - 1].from : "";
                const added = {id: delivery.id, data: delivery, node: rowNode(delivery), from: from};
                tbody.insertBefore(added.node, at >= 0 ? rows[at].node : null);
                rows.splice(index, 0, added);
                rowsById.set(added.id, added);
                while (rows.length > rowLimit) {
                  drop(rows.pop());
                  trimmed = true;
                }
              }
            }
            chrome();
          }
          async function load() {
            const mine = ++generation;
            applied = filters();
            loading = true;
            try {
              const page = await api(listPath(null, pageSize));
              if (mine !== generation) return;
              rows = [];
              rowsById.clear();
              tbody.replaceChildren();
              trimmed = false;
              atTop = true;
              missed = 0;
              append(page.deliveries, "");
              nextCursor = page.next_cursor;
              byId("list-error").textContent = "";
            } catch (error) {
              if (mine !== generation) return;
              byId("list-error").textContent = "Cannot list deliveries: " + describe(error);
            }
            loading = false;
            // What the stream said while the page was on its way is applied on top of it.
            const waiting = held;
            held = [];
            for (const delivery of waiting) upsert(delivery);
            chrome();
          }
          async function older() {
            const last = rows[rows.length - 1];
            const cursor = trimmed ? (last ? last.from : "") : nextCursor;
            if (!last || (!trimmed && !cursor)) return;
            const mine = generation;
            byId("older").disabled = true;
            try {
              // After a trim the last row's page is fetched again (wide enough to hold it) and read after it.
              const page = await api(listPath(cursor, trimmed ? 500 : pageSize));
              if (mine !== generation) return;
              let list = page.deliveries;
              if (trimmed) {
                const at = list.findIndex((delivery) => delivery.id === last.id);
                if (at >= 0) list = list.slice(at + 1);
                if (list.length > pageSize) {
                  append(list.slice(0, pageSize), cursor);
                } else {
                  append(list, cursor);
                  trimmed = false;
                  nextCursor = page.next_cursor;
                }
              } else {
                append(list, cursor);
                nextCursor = page.next_cursor;
              }
              byId("list-error").textContent = "";
            } catch (error) {
              byId("list-error").textContent = "Cannot list older deliveries: " + describe(error);
            }
            chrome();
          }
          async function loadSubscriptions() {
            const select = byId("filter-subscription");
            try {
              const answer = await api("/v1/webhooks");
              const chosen = select.value;
              const options = [el("option", {value: ""}, "any")];
              for (const subscription of (answer && answer.data) || []) {
                options.push(el("option", {value: subscription.id, title: subscription.url},
                  (subscription.description || subscription.url) + " · " + subscription.dialect + " · " + subscription.id));
              }
              select.replaceChildren(...options);
              select.value = chosen;
              if (select.value !== chosen) select.value = "";
            } catch (error) {
              // The filter keeps "any"; the list says what is wrong with the API.
            }
          }

          // The panel of one delivery.
          function section(title, ...content) {
            return [el("h2", {}, title), ...content];
          }
          function pairs(list) {
            return el("dl", {}, list.filter(([, value]) => value !== undefined && value !== null && value !== "")
              .flatMap(([name, value]) => [el("dt", {}, name), el("dd", {}, value)]));
          }
          function summaryNode(delivery) {
            return pairs([
              ["delivery", el("span", {className: "mono"}, delivery.id)],
              ["event id", el("span", {className: "mono"}, delivery.event_id)],
              ["event", delivery.event_type],
              ["order", el("span", {className: "mono"}, delivery.order_id)],
              ["subscription", delivery.subscription ? el("span", {className: "mono"}, delivery.subscription) :
                "none (serve's --webhook-url)"],
              ["dialect", delivery.dialect],
              ["URL", el("span", {className: "mono"}, delivery.url)],
              ["status", statusBadge(delivery.status)],
              ["occurred", delivery.occurred_at],
              ["next attempt", delivery.next_attempt_at],
              ["dead because", delivery.dead_reason],
              ["attempts", String(delivery.attempt_count)],
            ]);
          }
          function headersNode(request) {
            if (!request || !request.headers) return el("p", {className: "muted"}, "Not attempted yet.");
            return el("table", {className: "headers", id: "request-headers"},
              el("tbody", {}, request.headers.map((field) =>
                el("tr", {}, el("td", {}, field.name), el("td", {}, field.value)))));
          }
          function attemptsNode(delivery) {
            const items = (delivery.attempts || []).map((attempt) => {
              const ok = attempt.response_status !== null && attempt.response_status !== undefined &&
                attempt.response_status >= 200 && attempt.response_status < 300;
              const outcome = attempt.response_status !== null && attempt.response_status !== undefined ?
                "HTTP " + attempt.response_status : "no response";
              return el("li", {className: ok ? "ok" : "bad", "data-number": attempt.number},
                el("strong", {}, "#" + attempt.number), " ", time(attempt.at), " ",
                el("span", {className: "muted"}, attempt.duration_ms + " ms"), " ", outcome,
                el("div", {className: "excerpt mono" + (attempt.error ? " error" : " muted")},
                  attempt.error || attempt.response_excerpt || ""));
            });
            if (delivery.status === "pending" && delivery.next_attempt_at) {
              items.push(el("li", {}, el("span", {className: "muted"}, "next attempt " + time(delivery.next_attempt_at))));
            }
            if (items.length === 0) return el("p", {className: "muted"}, "No attempt yet.");
            return el("ol", {className: "timeline", id: "attempts"}, items);
          }
          function render(panel, delivery) {
            panel.summary.replaceChildren(summaryNode(delivery));
            panel.resend.disabled = delivery.status === "pending";
            panel.resend.title = delivery.status === "pending" ? "pending: wait for its outcome" : "";
            panel.redeliver.disabled = delivery.status !== "dead";
            const request = delivery.request || {};
            const snapshot = delivery.order_snapshot;
            panel.rest.replaceChildren(
              ...section("Attempts", attemptsNode(delivery)),
              ...section("Order snapshot", snapshot ?
                el("pre", {id: "order-snapshot"}, JSON.stringify(snapshot, null, 2)) :
                el("p", {className: "muted"}, "The body carries no order.")),
              ...section("Request headers (last attempt)",
                el("p", {className: "mono muted"}, (request.method || "POST") + " " + (request.url || delivery.url)),
                headersNode(request)),
              ...section("Signature base", request.signature_base ?
                el("pre", {id: "signature-base"}, request.signature_base) :
                el("p", {className: "muted"}, request.headers ? "No signature found in the headers." : "Not attempted yet.")),
              ...section("Body" + (typeof request.body_size === "number" ? " (" + request.body_size + " bytes)" : ""),
                typeof request.body === "string" ? el("pre", {id: "request-body"}, request.body) :
                el("p", {className: "error"}, request.body_unavailable || "The body is not available.")));
          }
          async function refresh(panel) {
            const mine = ++panel.seq;
            try {
              const delivery = await api("/v1/deliveries/" + encodeURIComponent(panel.id));
              if (selected !== panel || mine !== panel.seq) return;
              render(panel, delivery);
            } catch (error) {
              if (selected !== panel || mine !== panel.seq) return;
              panel.summary.replaceChildren(el("p", {className: "error"}, "Cannot show " + panel.id + ": " + describe(error)));
            }
          }
          let refreshTimer = null;
          function refreshSoon() {
            if (refreshTimer !== null) return;
            refreshTimer = setTimeout(() => {
              refreshTimer = null;
              if (selected) refresh(selected);
            }, 100);
          }
          async function act(panel, verb) {
            const url = panel.url.value.trim();
            const options = {method: "POST"};
            if (verb === "resend" && url) {
              options.headers = {"Content-Type": "application/json"};
              options.body = JSON.stringify({webhook_url: url});
            }
            panel.resend.disabled = true;
            panel.redeliver.disabled = true;
            panel.result.className = "muted";
            panel.result.textContent = verb === "resend" ? "Resending…" : "Redelivering…";
            try {
              const delivery = await api("/v1/deliveries/" + encodeURIComponent(panel.id) + "/" + verb, options);
              if (selected !== panel) return;
              panel.result.className = "result-ok";
              panel.result.textContent = (verb === "resend" ? "Resent" : "Redelivered") + " to " + delivery.url +
                ": the same event id and bytes, signed afresh; its attempts follow below.";
              // The answer may be older than what the stream has said since (the new attempt can end first): the
              // row follows the stream, the panel asks again.
              refresh(panel);
            } catch (error) {
              if (selected !== panel) return;
              panel.result.className = "error";
              panel.result.textContent = (verb === "resend" ? "Resend" : "Redeliver") + " refused: " + describe(error);
              refresh(panel);
            }
          }
          function open(id) {
            for (const row of rows) row.node.classList.toggle("selected", row.id === id);
            const panel = {id: id, seq: 0};
            panel.summary = el("div", {id: "summary"}, el("p", {className: "muted"}, "Loading " + id + "…"));
            panel.url = el("input", {id: "resend-url", type: "url", placeholder: "to another URL (optional)",
              autocomplete: "off"});
            panel.resend = el("button", {id: "resend", type: "button", disabled: true}, "Resend");
            panel.redeliver = el("button", {id: "redeliver", type: "button", className: "secondary", disabled: true},
              "Redeliver");
            panel.result = el("span", {id: "action-result", className: "muted"});
            panel.resend.addEventListener("click", () => act(panel, "resend"));
            panel.redeliver.addEventListener("click", () => act(panel, "redeliver"));
            panel.rest = el("div", {id: "detail-rest"});
            selected = panel;
            byId("detail").replaceChildren(
              el("h2", {}, "Delivery"), panel.summary,
              el("div", {className: "actions"}, panel.resend, panel.url, panel.redeliver), el("p", {}, panel.result),
              panel.rest);
            refresh(panel);
          }

          function main() {
            tbody.addEventListener("click", (event) => {
              const row = event.target.closest("tr[data-id]");
              if (row) open(row.getAttribute("data-id"));
            });
            for (const id of ["filter-status", "filter-type", "filter-subscription", "filter-order"]) {
              byId(id).addEventListener("change", load);
            }
            byId("older").addEventListener("click", older);
            byId("newest").addEventListener("click", load);
            loadSubscriptions();
            load();
            connect();
          }
          function connect() {
            stream("/v1/events/stream", (type, data) => {
              if (type === "reset") {
                loadSubscriptions();
                load();
                if (selected) refreshSoon();
                return;
              }
              if (!data || typeof data.id !== "string") return;
              if (type === "queued" || type === "attempt" || type === "outcome") {
                if (!loading) {
                  upsert(data);
                } else if (held.length < 1000) {
                  held.push(data);
                } else {
                  held = [];
                  load();
                }
                if (selected && selected.id === data.id) refreshSoon();
              }
            }, (live) => {
              const state = byId("connection");
              state.className = "status " + (live ? "live" : "down");
              state.textContent = live ? "● live" : "○ disconnected (reconnecting…)";
            });
          }
          start(main);
        })();

        """#
}
