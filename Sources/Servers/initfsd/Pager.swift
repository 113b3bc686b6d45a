// initfsd's pager: the `map` request (Sources/ABI/FileProtocol.swift) answers with a pager-backed Frame
// (frame_create_paged) per file, and this pager's thread supplies its pages from the unpacked archive as
// they are first touched: a fault in a process that mapped it, or a kernel copy (frame_read,
// process_load). One Frame per file, made on its first map and kept (its supplied pages are initfs's page
// cache); each map hands out a duplicate with FileProtocol.mapRights.
//
// The pager thread shares no Swift object with the request loop: it reads the archive through a raw
// pointer, the files' places from a table filled before it starts, and the Frame handles from a table of
// words the request loop writes once per file (0 until the Frame exists).

final class FilePager {
    /// The Receiver page requests arrive at; each file's Frame has its own Sender (badge: node + 1).
    let receiver: Handle
    /// Per tree node: the file's offset in the archive and its size (copied before the thread starts).
    let places: UnsafeMutablePointer<(offset: Int, size: Int)>
    /// Per tree node: the Frame handle's raw value, 0 until the file is first mapped.
    let frames: UnsafeMutablePointer<UInt32>
    let count: Int
    let archive: UnsafeRawPointer
    /// A page the thread fills before supplying it (its page then goes to the file's Frame, copy on write).
    let scratch: Handle
    let buffer: UnsafeMutableRawPointer

    init(tree: Tree, archive: UnsafeRawPointer) throws(SysError) {
        count = tree.nodes.count
        places = .allocate(capacity: max(count, 1))
        frames = .allocate(capacity: max(count, 1))
        for (i, n) in tree.nodes.enumerated() {
            places[i] = (n.dataOffset, n.kind == .file ? n.size : 0)
            frames[i] = 0
        }
        self.archive = archive
        guard let b = Heap.allocate(size: Int(pageSize), alignment: 16) else { throw .outOfMemory }
        buffer = b
        receiver = try receiverCreate()
        scratch = try frameCreate(size: pageSize)
    }

    /// The Frame of node `node` (a file), made on first use; a new handle to it with mapRights.
    func map(_ node: Int) throws(SysError) -> Handle {
        if frames[node] == 0 {
            let size = max(1, (UInt64(places[node].size) + pageSize - 1) / pageSize) * pageSize
            let sender = try senderCreate(receiver, badge: UInt64(node) + 1)
            defer { _ = try? handleClose(sender) }   // the Frame keeps the Sender
            frames[node] = try frameCreatePaged(size: size, pager: sender).raw
        }
        return try handleDuplicate(Handle(raw: frames[node]), rights: FileProtocol.mapRights)
    }

    /// Starts the thread that answers page requests.
    func start() throws(SysError) {
        let pager = Unmanaged.passRetained(self)
        _ = try spawnThread(stackSize: 16 * 1024) { () -> UInt64 in
            pager.takeUnretainedValue().serve()
            return 0
        }
    }

    /// Answers page requests forever: supplied (resume), or failed (label 1) for a bad one.
    func serve() {
        var answer = IPCMessage(label: PagerMessage.resume)
        var first = true
        while true {
            let request: IPCMessage
            do throws(SysError) {
                request = first ? try receiverRecv(receiver) : try receiverReplyRecv(receiver, answer)
            } catch {
                first = true   // the faulting thread went away before the answer: receive afresh
                continue
            }
            first = false
            answer = IPCMessage(label: supply(request) ? PagerMessage.resume : 1)
        }
    }

    /// Supplies the page a request names; false for a request that names none.
    func supply(_ request: IPCMessage) -> Bool {
        guard request.tag.label == PagerMessage.label, request.tag.words >= 1, request.badge >= 1,
              request.badge <= UInt64(count) else { return false }
        let node = Int(request.badge - 1)
        let offset = request.words.0
        let place = places[node]
        guard frames[node] != 0, offset % pageSize == 0, offset < max(UInt64(place.size), 1) + pageSize else { return false }
        buffer.initializeMemory(as: UInt8.self, repeating: 0, count: Int(pageSize))
        if offset < UInt64(place.size) {
            let n = min(Int(pageSize), place.size - Int(offset))
            buffer.copyMemory(from: archive + place.offset + Int(offset), byteCount: n)
        }
        do throws(SysError) {
            try frameWrite(scratch, offset: 0, from: UnsafeRawBufferPointer(start: buffer, count: Int(pageSize)))
            try frameSupply(Handle(raw: frames[node]), offset: offset, from: scratch)
        } catch {
            // Supplied before (two requests for one page): the access can go on.
            return error == .badState
        }
        return true
    }
}
