/// `ucpsim listen`'s page at `/`: every webhook received, live, with its verdict (a green **verified** badge, or a red
/// **rejected** one with the failure's reason), and a panel with the key that verified it or the failure, its headers
/// and its body. It reads `GET /v1/received` and follows `GET /v1/events/stream`; it holds at most `maxRows` rows.
public enum ReceiverPage {
    /// The most rows the page keeps (older ones drop off; "Older…" pages them in from the API).
    public static let maxRows = 200

    /// The document and its headers.
    public static let page = InspectorPage(
        title: "ucpsim listen — received webhooks",
        body: body,
        style: style,
        script: script
    )

    static let body = """
        \(InspectorPage.tokenForm)
        <div id="app">
        <header>
        <h1>ucpsim listen · received webhooks</h1>
        <label>Verdict <select id="verdict" aria-label="Verdict filter">
        <option value="">all</option><option value="verified">verified</option><option value="rejected">rejected</option>
        </select></label>
        <span id="count" class="muted"></span>
        <span id="connection" class="status down">connecting…</span>
        </header>
        <main>
        <section id="list">
        <table>
        <thead><tr><th>Verdict</th><th>Time</th><th>Dialect</th><th>Event</th><th>Order</th><th>Status</th></tr></thead>
        <tbody id="rows"></tbody>
        </table>
        <p id="empty" class="empty">No webhook received yet: POST one to any path of this address.</p>
        <p class="actions"><button id="older" class="secondary" type="button" hidden>Older…</button></p>
        </section>
        <section id="detail"><p class="empty">Select a webhook to see its verdict, key, headers and body.</p></section>
        </main>
        </div>
        """

    static let style = """
        #list .actions{padding:0 10px}
        td .reason{color:var(--bad);font-size:12px;margin-top:2px}
        td .sub{color:var(--muted);font-size:12px}
        #detail .failure{color:var(--bad)}
        #detail h2 .badge{margin-left:8px;vertical-align:middle}

        """

    /// The page's script (after `InspectorPage.kitScript`). A raw string: what is here is what the browser runs.
    static let script = #"""
        (() => {
          const {el, badge, time, api, stream, start} = UCPInspector;
          const maxRows = 200;
          const records = new Map();
          let order = [];
          let selected = null;
          let filter = "";
          let more = false;
          let loading = 0;
          const rows = document.getElementById("rows");
          const detail = document.getElementById("detail");
          const older = document.getElementById("older");

          function sequence(id) { return Number(String(id).slice(2)) || 0; }
          function matches(record) { return !filter || (filter === "verified") === Boolean(record.verified); }
          function verdictBadge(record) {
            return record.verified ? badge("verified", "ok") : badge("rejected", "bad");
          }
          function keyText(key) {
            if (!key) return "—";
            if (key.secret) return "secret " + key.secret;
            return "kid " + key.kid + " · " + key.profile;
          }

          function row(record) {
            const failure = record.failure;
            const tr = el("tr", {"data-id": record.id, "data-verdict": record.verified ? "verified" : "rejected",
                                 className: record.id === selected ? "selected" : ""},
              el("td", {},
                verdictBadge(record),
                failure ? el("div", {className: "reason mono"}, failure.reason) : null,
                record.duplicate ? el("div", {className: "sub"}, "duplicate") : null),
              el("td", {className: "mono"}, time(record.received_at)),
              el("td", {}, record.dialect || "—"),
              el("td", {},
                el("div", {className: "mono"}, record.event_id || "—"),
                el("div", {className: "sub"}, record.event_type || "")),
              el("td", {className: "mono"}, record.order_id || "—"),
              el("td", {className: "mono"}, String(record.status)));
            tr.addEventListener("click", () => select(record.id));
            return tr;
          }

          function render() {
            rows.replaceChildren(...order.map((id) => row(records.get(id))));
            document.getElementById("empty").hidden = order.length > 0;
            document.getElementById("count").textContent =
              order.length + (order.length === 1 ? " webhook" : " webhooks") + (more ? " shown" : "");
            older.hidden = !more;
          }

          // Newest first by sequence; at most maxRows, trimming the end opposite to where rows came in.
          function keep(list, trimOldest) {
            for (const record of list) {
              if (matches(record)) records.set(record.id, record);
            }
            order = Array.from(records.keys()).sort((a, b) => sequence(b) - sequence(a));
            while (order.length > maxRows) {
              const dropped = trimOldest ? order.pop() : order.shift();
              records.delete(dropped);
              if (trimOldest) more = true;
            }
          }

          async function load() {
            const ticket = ++loading;
            const query = filter ? "?verdict=" + encodeURIComponent(filter) : "";
            try {
              const page = await api("/v1/received" + query);
              if (ticket !== loading) return;
              // What the stream brought while this page was on its way is newer than the page: keep it.
              const newest = page.received.length ? sequence(page.received[0].id) : 0;
              const arrived = Array.from(records.values()).filter((record) => sequence(record.id) > newest);
              records.clear();
              more = page.next_cursor !== null;
              keep(page.received, true);
              keep(arrived, true);
              render();
              if (selected && records.has(selected)) showDetail(records.get(selected));
            } catch (error) {
              showError(error);
            }
          }

          async function loadOlder() {
            if (order.length === 0) return;
            // The API's cursor continues after a record's sequence: this page's oldest row.
            const params = new URLSearchParams({cursor: "c" + sequence(order[order.length - 1])});
            if (filter) params.set("verdict", filter);
            try {
              const page = await api("/v1/received?" + params.toString());
              more = page.next_cursor !== null;
              keep(page.received, false);
              render();
            } catch (error) {
              showError(error);
            }
          }

          function showError(error) {
            detail.replaceChildren(el("p", {className: "error"},
              "The API answered " + (error.status || "nothing") + ": " + (error.content || error.message || error)));
          }

          function select(id) {
            selected = id;
            for (const tr of rows.children) tr.classList.toggle("selected", tr.getAttribute("data-id") === id);
            const record = records.get(id);
            if (record) showDetail(record);
          }

          function bodyBlock(record) {
            let text = record.body;
            try { text = JSON.stringify(JSON.parse(record.body), null, 2); } catch (error) { text = record.body; }
            const size = !record.body_truncated ? record.body_size + " bytes"
              : record.body ? "first 4 KiB of " + record.body_size + " bytes"
              : "not kept (" + record.body_size + " bytes, over the size limit)";
            return [el("p", {className: "muted", id: "body-size"}, size), el("pre", {id: "body"}, text)];
          }

          function showDetail(record) {
            const failure = record.failure;
            const facts = [
              ["Verdict", record.verified ? "verified" : "rejected"],
              ["Key", keyText(record.key)],
              ["Reason", failure ? failure.reason + " (" + failure.code + ")" : null],
              ["Detail", failure ? failure.detail : null],
              ["Diagnostic", failure ? failure.diagnostic : null],
              ["Dialect", record.dialect || "none (no signature header)"],
              ["Event", (record.event_id || "—") + (record.event_type ? " · " + record.event_type : "")],
              ["Order", record.order_id || "—"],
              ["Received", record.received_at],
              ["Request", record.method + " " + record.url],
              ["Answered", String(record.status)],
              ["Duplicate", record.duplicate ? "yes: this event id was accepted before (acknowledged, not processed again)" : "no"],
            ].filter(([, value]) => value !== null && value !== undefined);
            const list = el("dl", {id: "facts"});
            for (const [name, value] of facts) {
              list.append(el("dt", {}, name), el("dd", {className: name === "Reason" || name === "Detail" ? "failure" : ""}, value));
            }
            const headers = el("table", {className: "headers", id: "headers"},
              el("tbody", {}, record.headers.map((field) => el("tr", {}, el("td", {}, field.name), el("td", {}, field.value)))));
            detail.replaceChildren(
              el("h2", {}, record.id, verdictBadge(record)),
              list,
              el("h2", {}, "Headers"),
              headers,
              el("h2", {}, "Body"),
              ...bodyBlock(record));
          }

          function connection(live) {
            const node = document.getElementById("connection");
            node.textContent = live ? "live" : "disconnected: reconnecting…";
            node.className = "status " + (live ? "live" : "down");
            if (live) load();
          }

          function main() {
            document.getElementById("verdict").addEventListener("change", (event) => {
              filter = event.target.value;
              records.clear();
              order = [];
              render();
              load();
            });
            older.addEventListener("click", loadOlder);
            render();
            stream("/v1/events/stream", (type, data) => {
              if (type === "received") {
                keep([data], true);
                render();
              } else if (type === "reset") {
                load();
              }
            }, connection);
          }

          start(main);
        })();

        """#
}
