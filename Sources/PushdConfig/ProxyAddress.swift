import Foundation

/// `proxy:` of the file, globally or per vendor: `http://[user:password@]host[:port]`, an HTTP
/// proxy that tunnels vendor connections with `CONNECT`. User and password are percent-decoded.
public struct ProxyAddress: Sendable, Equatable {
    public var host: String
    public var port: Int
    public var username: String?
    public var password: String?

    /// Nil for anything else (another scheme, a path, a query, no host, a port out of range). The
    /// text is never echoed in problems: it may carry a password.
    public init?(_ text: String) {
        guard let url = URLComponents(string: text), url.scheme?.lowercased() == "http",
            var host = url.host, !host.isEmpty, url.path.isEmpty || url.path == "/", url.query == nil, url.fragment == nil
        else { return nil }
        if host.hasPrefix("["), host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        let port = url.port ?? 80
        guard (1...65535).contains(port), !host.isEmpty else { return nil }
        self.host = host
        self.port = port
        username = url.user
        password = url.password
        if username == nil, password != nil { return nil }
    }

    /// Where a connection to `vendor` goes: its own `proxy` wins over the global one; nil is direct.
    /// Call only on a config that passed `config check`.
    public static func effective(global: String, vendor: VendorConfig) -> ProxyAddress? {
        let text = vendor["proxy"].isEmpty ? global : vendor["proxy"]
        return text.isEmpty ? nil : ProxyAddress(text)
    }
}
