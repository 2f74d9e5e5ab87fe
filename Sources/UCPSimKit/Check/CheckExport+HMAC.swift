import Foundation

extension CheckExport {
    /// The tolerance the shared-secret dialects' vectors are labelled with: 5 minutes either side of `now`.
    public static let hmacTolerance: Int64 = 300

    /// The throw-away secret `dialect`'s vectors are signed with for `seed` (`whsec_` + base64 of 32 bytes hashed
    /// from the seed). Never the secret given to `--secret`: it is written into the files so they can be verified.
    public static func vectorSecret(_ dialect: DialectName, seed: UInt64) -> WebhookSecret {
        HMACForge.secret(from: SeededKeys(seed: seed).bytes("secret " + dialect.rawValue))
    }

    /// The files for `cases` of a shared-secret dialect, by file name, in catalog order: each request signed with
    /// the seed's throw-away secret at `now`, the secret in the file beside it.
    public static func documents(_ cases: [CheckCase], dialect name: DialectName, target: RequestTarget, seed: UInt64)
        throws -> [(String, Data)]
    {
        guard let dialect = HMACCheckSession.dialect(name) else {
            return try documents(cases, target: target, seed: seed)
        }
        let derive = SeededKeys(seed: seed)
        let secret = vectorSecret(name, seed: seed)
        let forge = HMACForge(
            dialect: dialect,
            secret: secret,
            otherSecret: HMACForge.secret(from: derive.bytes("other secret " + name.rawValue))
        )
        let order = try HMACCheckSession.order(id: "ord_vector_1", at: now, baseURL: "https://shop.example.com")
        var documents: [(String, Data)] = []
        for checkCase in cases {
            let message = try forge.event(checkCase.id, id: derive.uuid(checkCase.id), order: order, occurredAt: now)
            let request = try forge.request(checkCase.id, message: message, to: target, now: now)
            let document: [String: Any] = [
                "id": checkCase.id, "summary": checkCase.summary, "spec": checkCase.spec,
                "expected": expected(checkCase.expected),
                "dialect": name.rawValue, "seed": seed, "now": now, "tolerance_seconds": hmacTolerance,
                "secret": secret.text,
                "secret_note": "a throw-away secret derived from the seed, for these vectors only",
                "signature_verifies": checkCase.signatureVerifies,
                "request_verifies": checkCase.requestVerifies,
                "request": [
                    "method": request.method, "url": request.url,
                    "headers": request.headers.fields.map { [$0.name, $0.value] },
                    "body_base64": Data(request.body).base64EncodedString(),
                ],
            ]
            documents.append(("\(checkCase.id).json", try vectorJSON(document)))
        }
        return documents
    }
}
