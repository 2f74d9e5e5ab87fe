import Foundation

/// The authorization endpoint's pages: the sign-in and consent page, and the error page shown when a request cannot
/// be sent back to its client. Plain server-rendered HTML, self-contained: one inline style sheet (allowed by its
/// hash in the Content-Security-Policy), no script, no image, nothing fetched from anywhere. Every value put in the
/// page goes through `escape`.
public enum ConsentPage {
    /// What the sign-in and consent page shows.
    public struct Content: Sendable {
        /// The shop's base URL (the issuer), named at the top.
        public var issuer: String
        /// Where the form posts (`/oauth/authorize`).
        public var action: String
        public var request: AuthorizationRequest
        /// The pending request's id (the hidden field).
        public var pendingID: String
        /// The email as typed, shown again after a failed sign-in.
        public var email: String
        /// Why the last sign-in failed.
        public var error: String?

        public init(
            issuer: String,
            action: String,
            request: AuthorizationRequest,
            pendingID: String,
            email: String = "",
            error: String? = nil
        ) {
            self.issuer = issuer
            self.action = action
            self.request = request
            self.pendingID = pendingID
            self.email = email
            self.error = error
        }
    }

    /// `text` safe inside HTML text and quoted attribute values: `&`, `<`, `>`, `"` and `'` become character
    /// references.
    public static func escape(_ text: String) -> String {
        var out = ""
        out.reserveCapacity(text.utf8.count)
        for character in text.unicodeScalars {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.unicodeScalars.append(character)
            }
        }
        return out
    }

    /// The sign-in and consent page.
    public static func render(_ content: Content) -> String {
        let client = escape(content.request.client.name)
        let scopes = content.request.scopes.map { scope in
            """
                        <li><span>\(escape(IdentityScope.description(scope)))</span><code>\(escape(scope))</code></li>
            """
        }
        let error =
            content.error.map {
                """
                    <p class="error" role="alert">\(escape($0))</p>

                """
            } ?? ""
        let email = content.email.isEmpty ? "" : " value=\"\(escape(content.email))\""
        let autofocus = content.email.isEmpty ? " autofocus" : ""
        let passwordFocus = content.email.isEmpty ? "" : " autofocus"
        return """
            <!doctype html>
            <html lang="en">
            <head>
            <meta charset="utf-8">
            <meta name="viewport" content="width=device-width, initial-scale=1">
            <title>Link your account · \(client)</title>
            <style>\(css)</style>
            </head>
            <body>
            <main>
                <p class="shop">ucpsim shop · \(escape(content.issuer))</p>
                <h1>Link your account</h1>
                <p class="lead"><strong>\(client)</strong> asks to link to your account at this shop.</p>
            \(error)    <form method="post" action="\(escape(content.action))">
                    <input type="hidden" name="request_id" value="\(escape(content.pendingID))">
                    <h2>Sign in</h2>
                    <label for="email">Email</label>
                    <input id="email" name="email" type="email" autocomplete="username" required\(email)\(autofocus)>
                    <label for="password">Password</label>
                    <input id="password" name="password" type="password" autocomplete="current-password" required\(passwordFocus)>
                    <h2>\(client) will be able to</h2>
                    <ul class="scopes">
            \(scopes.joined(separator: "\n"))
                    </ul>
                    <p class="note">You go back to <code>\(escape(origin(of: content.request.redirectURI)))</code> either way. \
            Deny links nothing.</p>
                    <div class="actions">
                        <button type="submit" name="decision" value="allow" class="allow">Allow</button>
                        <button type="submit" name="decision" value="deny" class="deny" formnovalidate>Deny</button>
                    </div>
                </form>
                <p class="foot">Client <code>\(escape(content.request.client.id))</code>. A simulator: the customers \
            and their passwords are the shop file's.</p>
            </main>
            </body>
            </html>

            """
    }

    /// A page saying why the request is refused (when it cannot be sent back to the client).
    public static func errorPage(title: String, message: String) -> String {
        """
        <!doctype html>
        <html lang="en">
        <head>
        <meta charset="utf-8">
        <meta name="viewport" content="width=device-width, initial-scale=1">
        <title>\(escape(title))</title>
        <style>\(css)</style>
        </head>
        <body>
        <main>
            <p class="shop">ucpsim shop</p>
            <h1>\(escape(title))</h1>
            <p class="error" role="alert">\(escape(message))</p>
            <p class="note">The request was not sent back to the application: it could not be trusted with the \
        answer. Start again from the application.</p>
        </main>
        </body>
        </html>

        """
    }

    /// The page's Content-Security-Policy: nothing may load, the one inline style sheet is allowed by its hash, the
    /// page may not be framed, and its form may post only to `formTargets` (the endpoint, and the redirect URI's
    /// origin: browsers check the redirect that answers the form too).
    public static func contentSecurityPolicy(formTargets: [String] = []) -> String {
        let targets = (["'self'"] + formTargets.filter(isSourceExpression)).joined(separator: " ")
        return
            "default-src 'none'; style-src '\(styleHash)'; img-src 'none'; base-uri 'none'; "
            + "form-action \(targets); frame-ancestors 'none'"
    }

    /// `scheme://host[:port]` of `uri`; the URI itself when it has no host.
    public static func origin(of uri: String) -> String {
        guard let components = URLComponents(string: uri), let scheme = components.scheme,
            var host = components.host, !host.isEmpty
        else { return uri }
        if host.contains(":") && !host.hasPrefix("[") { host = "[\(host)]" }
        return "\(scheme)://\(host)" + (components.port.map { ":\($0)" } ?? "")
    }

    /// Whether `text` can stand in a CSP source list as it is (no spaces, `;` or `,`, which would end it).
    private static func isSourceExpression(_ text: String) -> Bool {
        !text.isEmpty
            && text.unicodeScalars.allSatisfy { scalar in
                scalar.properties.isASCIIHexDigit || ("a"..."z").contains(scalar) || ("A"..."Z").contains(scalar)
                    || ("0"..."9").contains(scalar) || ":/.-[]".unicodeScalars.contains(scalar)
            }
    }

    /// `sha256-…` of the style sheet, as CSP `style-src` names it.
    static let styleHash = "sha256-" + Data(DigestAlgorithm.sha256.hash(Array(css.utf8))).base64EncodedString()

    /// The pages' one style sheet.
    static let css = """
        :root{color-scheme:light;--ink:#1d2430;--muted:#5b6573;--line:#d9dee5;--accent:#1f6feb;--bad:#b42318}\
        *{box-sizing:border-box}\
        body{margin:0;min-height:100vh;display:flex;align-items:center;justify-content:center;padding:24px;\
        background:#eef1f5;color:var(--ink);font:16px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}\
        main{width:100%;max-width:440px;background:#fff;border:1px solid var(--line);border-radius:12px;\
        padding:28px 32px;box-shadow:0 8px 24px rgba(16,24,40,.08)}\
        .shop{margin:0 0 4px;color:var(--muted);font-size:13px;letter-spacing:.02em}\
        h1{margin:0 0 8px;font-size:22px}\
        h2{margin:22px 0 8px;font-size:15px;text-transform:uppercase;letter-spacing:.04em;color:var(--muted)}\
        .lead{margin:0 0 8px}\
        label{display:block;margin:10px 0 4px;font-size:14px;font-weight:600}\
        input[type=email],input[type=password]{width:100%;padding:9px 11px;border:1px solid var(--line);\
        border-radius:8px;font:inherit}\
        input:focus{outline:2px solid var(--accent);outline-offset:1px}\
        .scopes{list-style:none;margin:0;padding:0;border:1px solid var(--line);border-radius:8px}\
        .scopes li{padding:10px 12px;border-top:1px solid var(--line)}\
        .scopes li:first-child{border-top:0}\
        .scopes span{display:block}\
        code{font:12px/1.4 ui-monospace,SFMono-Regular,Menlo,monospace;color:var(--muted);word-break:break-all}\
        .note{font-size:13px;color:var(--muted)}\
        .error{margin:12px 0;padding:10px 12px;border-radius:8px;background:#fef3f2;border:1px solid #fecdca;\
        color:var(--bad)}\
        .actions{display:flex;gap:12px;margin-top:18px}\
        button{flex:1;padding:10px 14px;border-radius:8px;font:inherit;font-weight:600;cursor:pointer}\
        .allow{background:var(--accent);border:1px solid var(--accent);color:#fff}\
        .deny{background:#fff;border:1px solid var(--line);color:var(--ink)}\
        .foot{margin:18px 0 0;font-size:12px;color:var(--muted)}
        """
}
