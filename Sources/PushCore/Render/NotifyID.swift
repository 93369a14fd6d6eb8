/// The notification id Android vendors key a displayed notification by (MiPush `notify_id`, Huawei
/// `notify_id`): pushes with one id replace each other, and a revoke names the id it removes.
public enum NotifyID {
    /// A stable id (0 to 2147483647, what MiPush and Huawei take) for a key: the 31 low bits of the
    /// key's 32-bit FNV-1a hash, the same in every process and build.
    public static func of(_ key: String) -> Int {
        var hash: UInt32 = 0x811c_9dc5
        for byte in key.utf8 {
            hash ^= UInt32(byte)
            hash = hash &* 0x0100_0193
        }
        return Int(hash & 0x7fff_ffff)
    }
}
