import Foundation
import HTTPTypes
import Hummingbird
import NIOCore

extension AuthorizationServer {
    /// The largest form body `POST /oauth/authorize` reads.
    static let formLimit = 16 * 1024

    /// `GET /oauth/authorize` (the sign-in and consent page, or straight to the redirect with `--auto-consent`) and
    /// `POST /oauth/authorize` (the page's form).
    func addAuthorizeRoutes(to router: Router<BasicRequestContext>) {
        let pending = PendingAuthorizations(now: now)
        router.get("/oauth/authorize") { request, _ in
            await authorize(query: request.uri.query, pending: pending)
        }
        router.post("/oauth/authorize") { request, _ in
            var request = request
            return await answerForm(&request, pending: pending)
        }
    }

    /// Validates an authorization request and answers the page, the auto-consent redirect, or the refusal.
    func authorize(query: String?, pending: PendingAuthorizations) async -> Response {
        let request: AuthorizationRequest
        switch AuthorizationRequest.validate(query: query, setup: setup) {
        case .success(let valid):
            request = valid
        case .failure(.untrusted(let message)):
            return Self.page(.badRequest, ConsentPage.errorPage(title: "This link cannot be used", message: message))
        case .failure(.redirect(let redirectURI, let error, let description, let state)):
            return refusal(redirectURI: redirectURI, error: error, description: description, state: state)
        }
        if let automatic = setup.autoConsent {
            guard let customer = customer(automatic) else {
                return refusal(
                    request,
                    error: "server_error",
                    description: "The auto-consent customer is not one of the shop's customers."
                )
            }
            return await allow(request, customer: customer)
        }
        let id = pending.add(request)
        return consentPage(
            ConsentPage.Content(issuer: issuer, action: authorizationEndpoint, request: request, pendingID: id)
        )
    }

    /// The page's form: sign in and Allow, or Deny.
    func answerForm(_ request: inout Request, pending: PendingAuthorizations) async -> Response {
        let contentType = request.headers[.contentType]?.split(separator: ";").first?
            .trimmingCharacters(in: .whitespaces).lowercased()
        guard contentType == "application/x-www-form-urlencoded" else {
            return Self.page(
                .unsupportedMediaType,
                ConsentPage.errorPage(
                    title: "This form cannot be used",
                    message: "The form must be sent as application/x-www-form-urlencoded."
                )
            )
        }
        let body: [UInt8]
        do {
            body = [UInt8](buffer: try await request.collectBody(upTo: Self.formLimit))
        } catch {
            return Self.page(
                .contentTooLarge,
                ConsentPage.errorPage(
                    title: "This form cannot be used",
                    message: "The form is larger than \(Self.formLimit) bytes."
                )
            )
        }
        guard let form = AuthorizationRequest.Parameters(String(decoding: body, as: UTF8.self)),
            form.repeatedNames.isEmpty
        else {
            return Self.page(
                .badRequest,
                ConsentPage.errorPage(
                    title: "This form cannot be used",
                    message: "The form is not valid application/x-www-form-urlencoded, or repeats a field."
                )
            )
        }
        let expired = Self.page(
            .badRequest,
            ConsentPage.errorPage(
                title: "This sign-in page has expired",
                message:
                    "The sign-in page is unknown, was already answered, or is over "
                    + "\(Int(PendingAuthorizations.defaultLifetime / 60)) minutes old. Start again from the application."
            )
        )
        guard let id = form.first("request_id"), let authorization = pending.request(id) else { return expired }
        switch form.first("decision") {
        case "deny":
            guard let authorization = pending.take(id) else { return expired }
            return refusal(authorization, error: "access_denied", description: "The customer denied the request.")
        case "allow":
            let email = (form.first("email") ?? "").trimmingCharacters(in: .whitespaces)
            guard let customer = signIn(email: email, password: form.first("password") ?? "") else {
                return consentPage(
                    ConsentPage.Content(
                        issuer: issuer,
                        action: authorizationEndpoint,
                        request: authorization,
                        pendingID: id,
                        email: email,
                        error: "The email or password is wrong. Nothing was linked."
                    )
                )
            }
            guard let authorization = pending.take(id) else { return expired }
            return await allow(authorization, customer: customer)
        default:
            return Self.page(
                .badRequest,
                ConsentPage.errorPage(title: "This form cannot be used", message: "Choose Allow or Deny.")
            )
        }
    }

    /// The customer whose email (case-insensitive) and password these are.
    func signIn(email: String, password: String) -> ShopFile.Customer? {
        guard !email.isEmpty, !password.isEmpty,
            let customer = customers.first(where: { $0.email.caseInsensitiveCompare(email) == .orderedSame })
        else { return nil }
        // Digests first: equal lengths, so the comparison's time says nothing about the password's length.
        let matches = HMACSHA256.constantTimeEqual(
            DigestAlgorithm.sha256.hash(Array(customer.password.utf8)),
            DigestAlgorithm.sha256.hash(Array(password.utf8))
        )
        return matches ? customer : nil
    }

    /// Issues a code for `request` on behalf of `customer` and redirects to the client with it.
    func allow(_ request: AuthorizationRequest, customer: ShopFile.Customer) async -> Response {
        let grant = AuthorizationGrant(
            clientID: request.client.id,
            customerID: customer.id,
            redirectURI: request.redirectURI,
            scopes: request.scopes,
            codeChallenge: request.codeChallenge,
            authTime: now()
        )
        do {
            let code = try await store.issueCode(grant, lifetime: setup.codeLifetime)
            var parameters = [("code", code)]
            if let state = request.state { parameters.append(("state", state)) }
            parameters.append(("iss", issuer))
            return Self.redirect(AuthorizationRequest.location(request.redirectURI, adding: parameters))
        } catch {
            return refusal(request, error: "server_error", description: "The shop could not store the code.")
        }
    }

    /// The redirect that refuses `request` (RFC 6749 §4.1.2.1, with RFC 9207's `iss`).
    func refusal(_ request: AuthorizationRequest, error: String, description: String) -> Response {
        refusal(redirectURI: request.redirectURI, error: error, description: description, state: request.state)
    }

    func refusal(redirectURI: String, error: String, description: String, state: String?) -> Response {
        var parameters = [("error", error), ("error_description", description)]
        if let state { parameters.append(("state", state)) }
        parameters.append(("iss", issuer))
        return Self.redirect(AuthorizationRequest.location(redirectURI, adding: parameters))
    }

    /// The sign-in and consent page (HTTP 200), its form allowed to post here and to be answered by a redirect to the
    /// client.
    func consentPage(_ content: ConsentPage.Content) -> Response {
        Self.page(
            .ok,
            ConsentPage.render(content),
            formTargets: [ConsentPage.origin(of: issuer), ConsentPage.origin(of: content.request.redirectURI)]
        )
    }

    /// An HTML page that no cache keeps and no other site frames.
    static func page(_ status: HTTPResponse.Status, _ html: String, formTargets: [String] = []) -> Response {
        var headers = HTTPFields()
        headers[.contentType] = "text/html; charset=utf-8"
        headers[.cacheControl] = "no-store"
        headers[Self.field("Pragma")] = "no-cache"
        headers[Self.field("Content-Security-Policy")] = ConsentPage.contentSecurityPolicy(formTargets: formTargets)
        headers[Self.field("X-Frame-Options")] = "DENY"
        headers[Self.field("X-Content-Type-Options")] = "nosniff"
        headers[Self.field("Referrer-Policy")] = "no-referrer"
        return Response(status: status, headers: headers, body: .init(byteBuffer: ByteBuffer(string: html)))
    }

    /// A 302 to `location` (the authorization response), not to be cached.
    static func redirect(_ location: String) -> Response {
        var headers = HTTPFields()
        headers[.location] = location
        headers[.cacheControl] = "no-store"
        headers[Self.field("Referrer-Policy")] = "no-referrer"
        return Response(status: .found, headers: headers)
    }

    private static func field(_ name: String) -> HTTPField.Name {
        guard let field = HTTPField.Name(name) else { preconditionFailure("\(name) is not a field name") }
        return field
    }
}
