// Resource limits: what a process and its descendants may hold. Each Process has an Account whose parent
// is its creator's Account; a charge is checked against every account up the chain and then added to
// each (a child spends its own budget and each ancestor's). Limits start unlimited (or at the creator's
// own limit, whichever is lower is enforced by the chain) and can only be lowered (process_set_limit).
//
// What is charged, and to whom:
// - frames: a Frame's page when it is first touched (lazily), to the account of the process that created
//   the Frame (frame_create's caller; for process_load's segments, the loaded process). A shared Frame
//   stays charged to its creator's account for as long as the Frame lives, whoever touches its pages.
// - kernelMemory (bytes): a Frame object and the nodes of its page tree, to the same account.
// - handles: the handles in the process's own table, checked per process (not summed over descendants).
// - threads: threads created in a process (thread_create), to that process's account chain, until the
//   Thread object is freed.

#if !KERNEL
import ABI
#endif

/// A process's budget and usage, chained to its creator's.
final class Account {
    let parent: Account?
    private(set) var used = (frames: UInt64(0), kernelMemory: UInt64(0), handles: UInt64(0), threads: UInt64(0))
    private(set) var limit = (frames: UInt64.max, kernelMemory: UInt64.max, handles: UInt64.max, threads: UInt64.max)

    init(parent: Account?) { self.parent = parent }

    /// The usage of one kind.
    func usage(_ kind: LimitKind) -> UInt64 {
        switch kind {
        case .frames: used.frames
        case .kernelMemory: used.kernelMemory
        case .handles: used.handles
        case .threads: used.threads
        }
    }

    /// The limit of one kind.
    func limit(_ kind: LimitKind) -> UInt64 {
        switch kind {
        case .frames: limit.frames
        case .kernelMemory: limit.kernelMemory
        case .handles: limit.handles
        case .threads: limit.threads
        }
    }

    /// Lowers a limit (raising is refused with .accessDenied: only the chain above may grant more).
    func lower(_ kind: LimitKind, to value: UInt64) throws(SysError) {
        guard value <= limit(kind) else { throw .accessDenied }
        switch kind {
        case .frames: limit.frames = value
        case .kernelMemory: limit.kernelMemory = value
        case .handles: limit.handles = value
        case .threads: limit.threads = value
        }
    }

    /// Throws .limitExceeded unless `amount` more of `kind` fits in this account and every ancestor.
    func check(_ kind: LimitKind, _ amount: UInt64) throws(SysError) {
        var a: Account? = self
        while let account = a {
            let u = account.usage(kind)
            guard amount <= account.limit(kind), u <= account.limit(kind) - amount else { throw .limitExceeded }
            a = account.parent
        }
    }

    /// Adds `amount` of `kind` to this account and every ancestor (after `check`).
    func add(_ kind: LimitKind, _ amount: UInt64) { adjust(kind, amount, add: true) }

    /// Gives back what `add` took.
    func remove(_ kind: LimitKind, _ amount: UInt64) { adjust(kind, amount, add: false) }

    /// check, then add.
    func charge(_ kind: LimitKind, _ amount: UInt64) throws(SysError) {
        try check(kind, amount)
        add(kind, amount)
    }

    private func adjust(_ kind: LimitKind, _ amount: UInt64, add: Bool) {
        var a: Account? = self
        while let account = a {
            account.apply(kind, amount, add: add)
            a = account.parent
        }
    }

    private func apply(_ kind: LimitKind, _ amount: UInt64, add: Bool) {
        func f(_ v: inout UInt64) {
            kassertUsage(add || v >= amount)
            v = add ? v + amount : v - min(v, amount)
        }
        switch kind {
        case .frames: f(&used.frames)
        case .kernelMemory: f(&used.kernelMemory)
        case .handles: f(&used.handles)
        case .threads: f(&used.threads)
        }
    }
}

/// Panics when an account would go below zero (a charge given back twice): a kernel bug, not user input.
@inline(__always) func kassertUsage(_ ok: Bool) {
    if !ok { kernelPanic("resource account given back more than it was charged") }
}

/// Something charged to an account, given back when this token is freed (held by the charged object).
final class Charge {
    let account: Account
    let kind: LimitKind
    let amount: UInt64
    init(_ account: Account, _ kind: LimitKind, _ amount: UInt64) throws(SysError) {
        try account.charge(kind, amount)
        self.account = account
        self.kind = kind
        self.amount = amount
    }
    deinit { account.remove(kind, amount) }
}
