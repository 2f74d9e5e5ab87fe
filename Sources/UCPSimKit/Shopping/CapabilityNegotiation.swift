/// The spec's capability intersection (overview, "Intersection Algorithm") and protocol version check, as values.
public enum CapabilityNegotiation {
    /// The capabilities both sides support, each at the highest version present in both arrays (exact equality of
    /// the date strings); then every extension none of whose parents (`extends`) survived is dropped, repeatedly,
    /// until nothing more goes (a chain of extensions goes with its root).
    ///
    /// - Parameters:
    ///   - business: each capability name with the versions the business supports.
    ///   - platform: the same, from the platform's profile.
    ///   - extends: each extension's parents (any one present keeps it); names not in it are roots.
    /// - Returns: each negotiated name with its version.
    public static func intersect(
        business: [String: [String]],
        platform: [String: [String]],
        extends: [String: [String]]
    ) -> [String: String] {
        var result: [String: String] = [:]
        for (name, versions) in business {
            guard let offered = platform[name] else { continue }
            if let highest = Set(versions).intersection(offered).max() { result[name] = highest }
        }
        var pruned = true
        while pruned {
            pruned = false
            for name in Array(result.keys) {
                guard let parents = extends[name], !parents.isEmpty else { continue }
                if !parents.contains(where: { result[$0] != nil }) {
                    result.removeValue(forKey: name)
                    pruned = true
                }
            }
        }
        return result
    }

    /// The shop's capabilities negotiated with a platform that declares `platform`, at protocol `version`: every
    /// `dev.ucp.*` capability the shop implements is offered at that release's version only (the spec: a release
    /// D profile declares version D on every `dev.ucp.*` entry; older versions come from leaf profiles).
    public static func shopCapabilities(
        platform: [String: [String]],
        version: UCPVersion
    ) -> [ShoppingCapability: UCPVersion] {
        var business: [String: [String]] = [:]
        var extends: [String: [String]] = [:]
        for capability in ShoppingCapability.allCases {
            business[capability.rawValue] = [version.rawValue]
            extends[capability.rawValue] = capability.extends.map(\.rawValue)
        }
        var negotiated: [ShoppingCapability: UCPVersion] = [:]
        for (name, chosen) in intersect(business: business, platform: platform, extends: extends) {
            if let capability = ShoppingCapability(rawValue: name), let version = UCPVersion(rawValue: chosen) {
                negotiated[capability] = version
            }
        }
        return negotiated
    }

    /// The protocol version of a request from a platform whose profile says `platformVersion`: the shop's own
    /// release, or one of the older releases it supports (`--supported-version`); nil otherwise
    /// (`version_unsupported`).
    public static func protocolVersion(
        platform platformVersion: String,
        shop: UCPVersion,
        supported: [UCPVersion]
    ) -> UCPVersion? {
        guard let version = UCPVersion(rawValue: platformVersion), version == shop || supported.contains(version)
        else { return nil }
        return version
    }
}
