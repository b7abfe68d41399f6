/// How far a write to the node's own disk must have gone before it returns.
///
/// Either way a file appears whole or not at all (temp file, rename) and every
/// block is checked against its CID when it is read, so a write the machine
/// lost shows up as a missing or corrupt object, never as wrong bytes.
public enum Durability: Sendable, Hashable {
    /// Data and directory entries are fsynced: the object survives power loss.
    /// The default, for anything the node's other state refers to.
    case synced
    /// Written and renamed into place, flushing left to the kernel: the object
    /// survives the process being killed, not the machine losing power. For
    /// objects whose loss is harmless or recoverable — a trainer's sealed
    /// result (verified against its receipt, and only its verified plaintext
    /// is kept, in node.sqlite), global weights node.sqlite also holds.
    case buffered
}
