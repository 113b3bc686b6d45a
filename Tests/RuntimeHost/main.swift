// Host test of the user heap (Sources/Servers/Runtime/Heap.swift): random allocations and frees of mixed
// sizes and alignments, each block filled with a tag and checked before it is freed; at the end every
// block is free and the free list is one block spanning the whole heap. `make runtime-host-test`.

func fatal(_ m: StaticString) -> Never { fatalError("\(m)") }

var rng: UInt64 = 0x1234_5678
func rand() -> UInt64 { rng ^= rng << 13; rng ^= rng >> 7; rng ^= rng << 17; return rng }

struct Block { let p: UnsafeMutableRawPointer; let size: Int; let tag: UInt8 }
var live: [Block] = []
var total = 0
for round in 0..<60_000 {
    if live.count > 0 && (rand() % 100 < 45 || live.count > 3000) {
        let i = Int(rand() % UInt64(live.count))
        let b = live[i]
        for j in 0..<b.size where b.p.load(fromByteOffset: j, as: UInt8.self) != b.tag { fatalError("corrupt at round \(round)") }
        Heap.free(b.p)
        live.swapAt(i, live.count - 1); live.removeLast()
    } else {
        let sizeClass = rand() % 10
        let size = sizeClass < 7 ? Int(rand() % 200) : (sizeClass < 9 ? Int(rand() % 20000) : Int(rand() % 3_000_000))
        let align = 1 << Int(rand() % 13)
        guard let p = Heap.allocate(size: size, alignment: align) else { fatalError("allocation failed \(size)") }
        if Int(bitPattern: p) & (max(align, 16) - 1) != 0 { fatalError("misaligned") }
        let tag = UInt8(truncatingIfNeeded: round)
        p.initializeMemory(as: UInt8.self, repeating: tag, count: size)
        live.append(Block(p: p, size: size, tag: tag))
        total += 1
    }
}
for b in live {
    for j in 0..<b.size where b.p.load(fromByteOffset: j, as: UInt8.self) != b.tag { fatalError("corrupt at the end") }
    Heap.free(b.p)
}
// Everything freed: one free block spanning the whole heap.
let first = Heap.freeList
let size = Heap.word(first).pointee
print("allocations \(total), live \(Heap.liveAllocations) bytes \(Heap.liveBytes), mapped \(Heap.mappedBytes >> 20) MiB, first free \(String(first, radix: 16)) size \(size), next \(Heap.word(first, 1).pointee)")
precondition(Heap.liveAllocations == 0 && Heap.liveBytes == 0)
precondition(first == Heap.base && size == Heap.mappedBytes && Heap.word(first, 1).pointee == 0)
print("heap host test passed")
