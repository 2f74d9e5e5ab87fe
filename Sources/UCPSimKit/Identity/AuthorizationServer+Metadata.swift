import Foundation
import HTTPTypes
import Hummingbird

extension AuthorizationServer {
    /// How long platforms may cache the metadata and the JWKS, in seconds (the shop's profile uses the same).
    static let metadataMaxAge = 300

    /// `/.well-known/oauth-authorization-server` (RFC 8414), `/.well-known/oauth-protected-resource` (RFC 9728) and
    /// `/oauth/jwks`.
    func addMetadataRoutes(to router: Router<BasicRequestContext>) {
        let headers: HTTPFields = [.cacheControl: "public, max-age=\(Self.metadataMaxAge)"]
        router.get("/.well-known/oauth-authorization-server") { _, _ -> Response in
            .json(try Self.encode(metadata), headers: headers)
        }
        router.get("/.well-known/oauth-protected-resource") { _, _ -> Response in
            .json(try Self.encode(resourceMetadata), headers: headers)
        }
        router.get("/oauth/jwks") { _, _ -> Response in
            .json(try Self.encode(JWKS(keys: signer.jwks)), headers: headers)
        }
    }

    /// The client authentication methods the token and revocation endpoints accept (each client uses the one it is
    /// registered with).
    public static let clientAuthMethods = OAuthClient.AuthMethod.allCases.map(\.rawValue)

    /// The authorization server metadata (RFC 8414 §2), with every field UCP's identity linking asks for.
    public var metadata: AuthorizationServerMetadata {
        AuthorizationServerMetadata(
            issuer: issuer,
            authorizationEndpoint: authorizationEndpoint,
            tokenEndpoint: tokenEndpoint,
            revocationEndpoint: revocationEndpoint,
            jwksURI: jwksURI,
            scopesSupported: setup.scopes,
            responseTypesSupported: ["code"],
            responseModesSupported: ["query"],
            grantTypesSupported: ["authorization_code", "refresh_token"],
            codeChallengeMethodsSupported: ["S256"],
            authorizationResponseISSParameterSupported: true,
            tokenEndpointAuthMethodsSupported: Self.clientAuthMethods,
            revocationEndpointAuthMethodsSupported: Self.clientAuthMethods
        )
    }

    /// The protected resource metadata (RFC 9728 §2): the shop, guarded by this authorization server.
    public var resourceMetadata: ProtectedResourceMetadata {
        ProtectedResourceMetadata(
            resource: issuer,
            authorizationServers: [issuer],
            scopesSupported: setup.scopes,
            bearerMethodsSupported: ["header"],
            resourceName: resourceName
        )
    }

    private struct JWKS: Encodable {
        var keys: [JWK]
    }
}

/// RFC 8414 authorization server metadata, as `/.well-known/oauth-authorization-server` serves it.
public struct AuthorizationServerMetadata: Sendable, Equatable, Codable {
    public var issuer: String
    public var authorizationEndpoint: String
    public var tokenEndpoint: String
    public var revocationEndpoint: String
    public var jwksURI: String
    public var scopesSupported: [String]
    public var responseTypesSupported: [String]
    public var responseModesSupported: [String]
    public var grantTypesSupported: [String]
    public var codeChallengeMethodsSupported: [String]
    /// RFC 9207: every authorization response carries `iss`.
    public var authorizationResponseISSParameterSupported: Bool
    public var tokenEndpointAuthMethodsSupported: [String]
    public var revocationEndpointAuthMethodsSupported: [String]

    enum CodingKeys: String, CodingKey {
        case issuer
        case authorizationEndpoint = "authorization_endpoint"
        case tokenEndpoint = "token_endpoint"
        case revocationEndpoint = "revocation_endpoint"
        case jwksURI = "jwks_uri"
        case scopesSupported = "scopes_supported"
        case responseTypesSupported = "response_types_supported"
        case responseModesSupported = "response_modes_supported"
        case grantTypesSupported = "grant_types_supported"
        case codeChallengeMethodsSupported = "code_challenge_methods_supported"
        case authorizationResponseISSParameterSupported = "authorization_response_iss_parameter_supported"
        case tokenEndpointAuthMethodsSupported = "token_endpoint_auth_methods_supported"
        case revocationEndpointAuthMethodsSupported = "revocation_endpoint_auth_methods_supported"
    }
}

/// RFC 9728 protected resource metadata, as `/.well-known/oauth-protected-resource` serves it.
public struct ProtectedResourceMetadata: Sendable, Equatable, Codable {
    public var resource: String
    public var authorizationServers: [String]
    public var scopesSupported: [String]
    public var bearerMethodsSupported: [String]
    public var resourceName: String

    enum CodingKeys: String, CodingKey {
        case resource
        case authorizationServers = "authorization_servers"
        case scopesSupported = "scopes_supported"
        case bearerMethodsSupported = "bearer_methods_supported"
        case resourceName = "resource_name"
    }
}
