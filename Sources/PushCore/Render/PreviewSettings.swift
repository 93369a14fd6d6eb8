extension AppPushSettings {
    /// Example identifiers for a vendor the app does not configure, so a preview still renders.
    public func withPreview(_ vendor: Vendor) -> AppPushSettings {
        var app = self
        switch vendor {
        case .apns: app.apns = .init(bundleID: "com.example.im")
        case .fcm: app.fcm = .init(projectID: "example-project")
        case .huawei: app.huawei = .init(appID: "10000000")
        case .xiaomi: app.xiaomi = .init(packageName: "com.example.im")
        case .oppo: app.oppo = .init()
        case .vivo: app.vivo = .init(appID: "10000")
        case .meizu: app.meizu = .init(appID: "100000")
        case .honor: app.honor = .init(appID: "10000000")
        }
        return app
    }
}
