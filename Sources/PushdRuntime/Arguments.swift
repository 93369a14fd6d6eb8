import ArgumentParser
import PushCore

/// `--vendor apns`, in every command that names a vendor.
extension Vendor: ExpressibleByArgument {}
