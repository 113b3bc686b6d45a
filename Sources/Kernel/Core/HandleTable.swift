// A process's handle table: the only way user code names kernel objects.
//
// A handle is a UInt32 that encodes a slot index and the slot's generation. Closing a handle bumps the
// slot's generation, so the old value stays invalid after the slot is reused (until the 12-bit generation
// wraps around, 4095 reuses of that one slot later). Generations start at 1 and skip 0, so every valid
// handle has a bit in 20..31 set: 0 and small integers are never handles.
//
// The table is generic over the object reference (in the kernel, a final class per object kind or an
// enum of them); with a class, a table entry is one strong reference, so an object lives exactly as long
// as some handle (or other kernel reference) to it exists.

#if !KERNEL
import ABI
#endif

public struct HandleTable<Object> {
    /// Bits 0..19: slot index + 1; bits 20..31: generation (never 0).
    static var indexBits: UInt32 { 20 }
    static var indexMask: UInt32 { (1 << indexBits) - 1 }
    static var generationMask: UInt32 { (1 << (32 - indexBits)) - 1 }
    /// The largest capacity the encoding can express.
    public static var maximumCapacity: Int { Int(indexMask) - 1 }

    struct Slot {
        var object: Object?
        var rights: Rights
        var generation: UInt32
        /// Next free slot index when this one is free, -1 at the end of the free list.
        var nextFree: Int
    }

    var slots: [Slot] = []
    /// Head of the free list (-1 when empty). Freed slots are reused before the table grows.
    var freeHead = -1
    public let capacity: Int
    public private(set) var count = 0

    /// A table of at most `capacity` handles; slots are created as they are first needed.
    public init(capacity: Int) {
        self.capacity = max(0, min(capacity, HandleTable.maximumCapacity))
    }

    static func encode(index: Int, generation: UInt32) -> UInt32 {
        (generation << indexBits) | UInt32(index + 1)
    }

    /// The slot index a handle names, if it names a live entry of this generation.
    func index(of handle: UInt32) -> Int? {
        let low = handle & HandleTable.indexMask
        guard low != 0 else { return nil }
        let index = Int(low - 1)
        guard index < slots.count, slots[index].object != nil,
              slots[index].generation == handle >> HandleTable.indexBits else { return nil }
        return index
    }

    /// Stores an object and returns the new handle; .noHandles when the table is full.
    public mutating func insert(_ object: Object, rights: Rights) throws(SysError) -> UInt32 {
        let index: Int
        if freeHead >= 0 {
            index = freeHead
            freeHead = slots[index].nextFree
        } else if slots.count < capacity {
            index = slots.count
            slots.append(Slot(object: nil, rights: [], generation: 1, nextFree: -1))
        } else {
            throw .noHandles
        }
        slots[index].object = object
        slots[index].rights = rights
        slots[index].nextFree = -1
        count += 1
        return HandleTable.encode(index: index, generation: slots[index].generation)
    }

    /// The entry behind a handle, or nil (for paths that fall back rather than fail).
    @inline(__always)
    public func entry(_ handle: UInt32) -> (object: Object, rights: Rights)? {
        guard let index = index(of: handle), let object = slots[index].object else { return nil }
        return (object, slots[index].rights)
    }

    /// The rights of a live handle, or nil (no count taken on its object).
    @inline(__always)
    public func rights(of handle: UInt32) -> Rights? {
        guard let index = index(of: handle) else { return nil }
        return slots[index].rights
    }

    public func lookup(_ handle: UInt32) throws(SysError) -> (object: Object, rights: Rights) {
        guard let index = index(of: handle), let object = slots[index].object else { throw .invalidHandle }
        return (object, slots[index].rights)
    }

    /// The object, if the handle carries every right in `requiring` (.accessDenied otherwise).
    public func lookup(_ handle: UInt32, requiring: Rights) throws(SysError) -> Object {
        let entry = try lookup(handle)
        guard entry.rights.isSuperset(of: requiring) else { throw .accessDenied }
        return entry.object
    }

    /// Closes a handle, handing back what it held (the caller drops or transfers the reference).
    public mutating func remove(_ handle: UInt32) throws(SysError) -> (Object, Rights) {
        guard let index = index(of: handle), let object = slots[index].object else { throw .invalidHandle }
        let rights = slots[index].rights
        release(index)
        return (object, rights)
    }

    /// Closes a handle and hands its object over without a reference count taken or dropped (the slot's
    /// reference moves to the caller); nil when the handle is not live. (IPC moves a handle with it.)
    public mutating func take(_ handle: UInt32) -> (object: Object, rights: Rights)? {
        guard let index = index(of: handle), let object = slots[index].object.take() else { return nil }
        let rights = slots[index].rights
        free(index)
        return (object, rights)
    }

    /// Frees a slot and makes every handle to it stale.
    mutating func release(_ index: Int) {
        slots[index].object = nil
        free(index)
    }

    /// Frees a slot whose object is already gone (nil) and makes every handle to it stale.
    @inline(__always) private mutating func free(_ index: Int) {
        slots[index].rights = []
        var generation = (slots[index].generation + 1) & HandleTable.generationMask
        if generation == 0 { generation = 1 }
        slots[index].generation = generation
        slots[index].nextFree = freeHead
        freeHead = index
        count -= 1
    }

    /// A second handle to the same object with `rights`, which must be a subset of the source's rights;
    /// the source needs .duplicate.
    public mutating func duplicate(_ handle: UInt32, rights: Rights) throws(SysError) -> UInt32 {
        let source = try lookup(handle)
        guard source.rights.contains(.duplicate), source.rights.isSuperset(of: rights) else { throw .accessDenied }
        return try insert(source.object, rights: rights)
    }

    /// Calls `body` with the object of every open handle (in slot order), changing nothing.
    public func forEachObject(_ body: (Object) -> Void) {
        for index in slots.indices {
            if let object = slots[index].object { body(object) }
        }
    }

    /// Closes every handle (process teardown) and returns the objects they held, one per handle.
    public mutating func removeAll() -> [Object] {
        var objects: [Object] = []
        objects.reserveCapacity(count)
        for index in slots.indices {
            if let object = slots[index].object {
                objects.append(object)
                release(index)
            }
        }
        return objects
    }
}
