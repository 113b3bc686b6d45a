// FAT32 files and the operations by name: read, write (growing the chain), truncate, create, mkdir,
// remove (unlink, rmdir), rename (within and across directories; a directory's `..` follows it).
// Whole clusters that are not cached move straight between the device and the caller's buffer, in runs
// of consecutive clusters; partial clusters go through the cluster cache. Bytes past a file's size are
// never shown: growing a file zeroes what it exposes.

extension FAT32Volume {
    /// The largest file FAT32 holds.
    public static var maxFileSize: UInt64 { 0xFFFF_FFFF }
    /// Clusters one direct device transfer moves at most.
    var runLimit: Int { max(1, (1 << 20) / clusterBytes) }

    /// The clusters of a file or directory, at least as many as its size needs (`.corrupt` otherwise).
    func dataChain(_ node: FATNode) throws(DiskError) -> [UInt32] {
        let chain = try chain(node.firstCluster)
        let needed = (UInt64(node.size) + UInt64(clusterBytes) - 1) / UInt64(clusterBytes)
        guard UInt64(chain.count) >= needed else { throw .corrupt }
        return chain
    }

    /// Reads up to `buffer.count` bytes at `offset` of a file; the count read (0 at or past its end).
    public func read(_ node: FATNode, at offset: UInt64, into buffer: UnsafeMutableRawBufferPointer) throws(DiskError) -> Int {
        guard !node.isDirectory else { throw .isDirectory }
        guard offset < UInt64(node.size), buffer.count > 0 else { return 0 }
        let n = Int(min(UInt64(buffer.count), UInt64(node.size) - offset))
        try transfer(try dataChain(node), at: offset, count: n, buffer.baseAddress!, write: false)
        return n
    }

    /// Moves `count` bytes between `buffer` and the chain's bytes from `offset` (inside the chain).
    func transfer(_ chain: [UInt32], at offset: UInt64, count: Int, _ buffer: UnsafeMutableRawPointer,
                  write: Bool) throws(DiskError) {
        var done = 0
        let cb = clusterBytes
        while done < count {
            let position = offset + UInt64(done)
            let k = Int(position / UInt64(cb)), within = Int(position % UInt64(cb))
            guard k < chain.count else { throw .corrupt }
            let rest = count - done
            if within == 0 && rest >= cb && dataCache.slot(of: UInt64(chain[k])) == nil {
                // A run of whole, uncached, consecutive clusters: straight to or from the device.
                var run = 1
                while run < rest / cb, run < runLimit, k + run < chain.count, chain[k + run] == chain[k] + UInt32(run),
                      dataCache.slot(of: UInt64(chain[k + run])) == nil { run += 1 }
                guard isCluster(chain[k]), isCluster(chain[k + run - 1]) else { throw .corrupt }
                if write {
                    try writeSectors(sector(of: chain[k]), run * sectorsPerCluster, from: buffer + done)
                } else {
                    try readSectors(sector(of: chain[k]), run * sectorsPerCluster, into: buffer + done)
                }
                done += run * cb
                continue
            }
            let n = min(cb - within, rest)
            let s = try clusterSlot(chain[k], fill: !(write && within == 0 && n == cb))
            if write {
                (dataCache.pointer(s) + within).copyMemory(from: buffer + done, byteCount: n)
                dataCache.dirty[s] = true
            } else {
                (buffer + done).copyMemory(from: dataCache.pointer(s) + within, byteCount: n)
            }
            done += n
        }
    }

    /// Writes `bytes` at `offset` of a file (growing it, with zeros in any gap); updates its entry.
    /// Returns the count written (all, or an error: `.noSpace` leaves the file as it was).
    public func write(_ node: inout FATNode, at offset: UInt64, from bytes: UnsafeRawBufferPointer) throws(DiskError) -> Int {
        guard !node.isDirectory else { throw .isDirectory }
        guard bytes.count > 0 else { return 0 }
        let end = offset + UInt64(bytes.count)
        guard offset <= FAT32Volume.maxFileSize, end <= FAT32Volume.maxFileSize else { throw .tooLarge }
        if offset > UInt64(node.size) { try truncate(&node, to: offset) }
        let clusters = Int((end + UInt64(clusterBytes) - 1) / UInt64(clusterBytes))
        let old = try dataChain(node)
        if clusters > old.count { node.firstCluster = try resizeChain(node.firstCluster, to: clusters, zero: false) }
        try transfer(try chain(node.firstCluster), at: offset, count: bytes.count,
                     UnsafeMutableRawPointer(mutating: bytes.baseAddress!), write: true)
        node.size = UInt32(max(UInt64(node.size), end))
        node.modified = clock()
        try updateEntry(node)
        return bytes.count
    }

    /// Sets a file's size: a shorter file frees its clusters past the end; a longer one reads zeros in
    /// the new part.
    public func truncate(_ node: inout FATNode, to size: UInt64) throws(DiskError) {
        guard !node.isDirectory else { throw .isDirectory }
        guard size <= FAT32Volume.maxFileSize else { throw .tooLarge }
        let chain = try dataChain(node)
        let clusters = Int((size + UInt64(clusterBytes) - 1) / UInt64(clusterBytes))
        if size > UInt64(node.size) {
            // Zero the old last cluster's tail, then add zeroed clusters.
            let tail = Int(UInt64(node.size) % UInt64(clusterBytes))
            if tail != 0 {
                let s = try clusterSlot(chain[Int(UInt64(node.size) / UInt64(clusterBytes))])
                (dataCache.pointer(s) + tail).initializeMemory(as: UInt8.self, repeating: 0, count: clusterBytes - tail)
                dataCache.dirty[s] = true
            }
            // Clusters past the size that the chain already had may hold old data: zero them too.
            let had = Int((UInt64(node.size) + UInt64(clusterBytes) - 1) / UInt64(clusterBytes))
            if clusters > had {
                for k in had..<min(clusters, chain.count) { try zeroCluster(chain[k]) }
            }
            node.firstCluster = try resizeChain(node.firstCluster, to: max(clusters, chain.count), zero: true)
        } else {
            node.firstCluster = try resizeChain(node.firstCluster, to: clusters, zero: false)
        }
        node.size = UInt32(size)
        node.modified = clock()
        try updateEntry(node)
    }

    /// Makes an empty file `name` in `dir`.
    public func createFile(_ name: [UInt8], in dir: FATNode) throws(DiskError) -> FATNode {
        let now = clock()
        let template = FATNode(name: [], attributes: FATAttribute.archive, firstCluster: 0, size: 0, modified: now,
                               created: now, parent: 0, slot: 0, firstSlot: 0, shortName: [])
        return try addEntry(name, in: dir, template: template)
    }

    /// Makes directory `name` in `dir`, with its `.` and `..` entries.
    public func makeDirectory(_ name: [UInt8], in dir: FATNode) throws(DiskError) -> FATNode {
        guard dir.isDirectory else { throw .notDirectory }
        if try find(name, in: dir) != nil { throw .exists }
        _ = try checkName(name)
        let now = clock()
        let cluster = try resizeChain(0, to: 1, zero: true)
        let template = FATNode(name: [], attributes: FATAttribute.directory, firstCluster: cluster, size: 0,
                               modified: now, created: now, parent: 0, slot: 0, firstSlot: 0, shortName: [])
        let node: FATNode
        do throws(DiskError) { node = try addEntry(name, in: dir, template: template) } catch {
            try freeChain(cluster)
            throw error
        }
        let chain = [cluster]
        let parent = dir.firstCluster == rootCluster ? 0 : dir.firstCluster
        for (i, target) in [cluster, parent].enumerated() {
            let e = try slotPointer(chain, i, dirty: true)
            e.initializeMemory(as: UInt8.self, repeating: 0x20, count: 11)
            e.storeBytes(of: UInt8(ascii: "."), as: UInt8.self)
            if i == 1 { e.storeBytes(of: UInt8(ascii: "."), toByteOffset: 1, as: UInt8.self) }
            e.storeBytes(of: FATAttribute.directory, toByteOffset: 11, as: UInt8.self)
            var dot = template
            dot.firstCluster = target
            writeShortFields(e, dot)
            let c = fatDateTime(now)
            put16(e, 14, c.time)
            put16(e, 16, c.date)
        }
        return node
    }

    /// True when a directory has no entries but `.` and `..`.
    public func isEmpty(_ dir: FATNode) throws(DiskError) -> Bool {
        var empty = true
        try scan(dir.firstCluster) { (_: FATNode) throws(DiskError) -> Bool in empty = false; return true }
        return empty
    }

    /// Removes a file, or an empty directory (`.notEmpty` otherwise), and frees its clusters.
    public func remove(_ node: FATNode) throws(DiskError) {
        guard node.parent != 0 else { throw .invalid }   // the root
        if node.isDirectory, try !isEmpty(node) { throw .notEmpty }
        _ = try chain(node.firstCluster)                 // a broken chain is reported before anything changes
        try removeEntry(node)
        try freeChain(node.firstCluster)
    }

    /// Moves `node` to `name` in `dir`. A file replaces a file there, a directory an empty directory;
    /// a directory cannot move into itself or below itself (`.invalid`). Returns the node at its new place.
    public func rename(_ node: FATNode, to name: [UInt8], in dir: FATNode) throws(DiskError) -> FATNode {
        guard node.parent != 0, dir.isDirectory else { throw node.parent == 0 ? .invalid : .notDirectory }
        _ = try checkName(name)
        if node.isDirectory {
            // Walk up from the target directory: meeting the node means a move into itself.
            var c = dir.firstCluster
            var steps: UInt32 = 0
            while c != rootCluster && c != 0 {
                if c == node.firstCluster { throw .invalid }
                c = try parentCluster(of: c)
                steps += 1
                guard steps <= clusterCount else { throw .corrupt }
            }
            if dir.firstCluster == node.firstCluster { throw .invalid }
        }
        if let target = try find(name, in: dir) {
            if target.parent == node.parent && target.slot == node.slot {
                // The same entry (a change of case only): write it again under the new name.
                try removeEntry(node)
                return try addEntry(name, in: dir, template: node)
            }
            if node.isDirectory != target.isDirectory { throw target.isDirectory ? .isDirectory : .notDirectory }
            try remove(target)
        }
        let moved = try addEntry(name, in: dir, template: node)
        try removeEntry(node)
        if node.isDirectory && node.parent != dir.firstCluster {
            let e = try slotPointer(try chain(node.firstCluster), 1, dirty: true)
            var dotdot = moved
            dotdot.firstCluster = dir.firstCluster == rootCluster ? 0 : dir.firstCluster
            put16(e, 20, UInt16(truncatingIfNeeded: dotdot.firstCluster >> 16))
            put16(e, 26, UInt16(truncatingIfNeeded: dotdot.firstCluster))
        }
        return moved
    }

    // MARK: By path

    /// Splits `a/b/c` into components (empty ones dropped).
    public static func components(_ path: [UInt8]) -> [[UInt8]] {
        path.split(separator: 0x2F, omittingEmptySubsequences: true).map { Array($0) }
    }

    /// The directory holding the last component of `path`, and that component.
    public func parent(of path: [[UInt8]]) throws(DiskError) -> (FATNode, [UInt8]) {
        guard let name = path.last else { throw .invalid }
        let dir = try lookup(Array(path.dropLast()))
        guard dir.isDirectory else { throw .notDirectory }
        return (dir, name)
    }

    /// Reads a whole file.
    public func readFile(_ path: [[UInt8]]) throws(DiskError) -> [UInt8] {
        let node = try lookup(path)
        guard node.size > 0 else { return [] }
        var out = [UInt8](repeating: 0, count: Int(node.size))
        let count = out.count
        let n = try withMutableBytes(&out) { (b) throws(DiskError) in
            try read(node, at: 0, into: UnsafeMutableRawBufferPointer(start: b, count: count))
        }
        return Array(out[0..<n])
    }

    /// Writes a whole file (made or emptied first).
    public func writeFile(_ path: [[UInt8]], _ bytes: [UInt8]) throws(DiskError) {
        let (dir, name) = try parent(of: path)
        var node: FATNode
        if let existing = try find(name, in: dir) {
            node = existing
            try truncate(&node, to: 0)
        } else {
            node = try createFile(name, in: dir)
        }
        guard !bytes.isEmpty else { return }
        _ = try withBytes(bytes) { (b) throws(DiskError) in
            try write(&node, at: 0, from: UnsafeRawBufferPointer(start: b, count: bytes.count))
        }
    }
}
