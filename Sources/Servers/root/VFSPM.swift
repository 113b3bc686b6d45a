// `vfspmtest`: root starts initfsd and vfs as at boot (Boot.startServers: vfs imports initfs and gets the
// kernel's command line), then pm (its Receiver and a Sender to vfs) and the vfspmtest program with, in
// order, vfs's administrative Sender (badge 0), pm's Sender, and the images of pmchild and vfs; its exit
// code is the run's result.

func runVFSPMTests(_ startup: Startup) -> Int32 {
    Boot.startServers(startup, only: ["initfsd", "vfs"])
    defer { Boot.letGo() }
    do throws(SysError) {
        var images: [Handle] = []
        for name in ["pm", "vfspmtest", "pmchild", "vfs"] {
            guard let (image, _) = try Programs.image(named: name, startup) else {
                print("root: vfspmtest needs \(name) in the initfs")
                return 1
            }
            images.append(image)
        }
        guard let vfsAdmin = Boot.sender(for: "vfs", badge: 0), let pmVFS = Boot.sender(for: "vfs") else {
            print("root: vfspmtest: vfs is not running")
            return 1
        }
        let pmReceiver = try receiverCreate()
        let pmSender = try senderCreate(pmReceiver)
        let pm = try Spawn.start(image: images[0], name: "pm", give: [pmReceiver, pmVFS])
        let tests = try Spawn.start(image: images[1], name: "vfspmtest", give: [vfsAdmin, pmSender, images[2], images[3]])
        let code = try tests.wait()
        _ = try? threadStop(pm.thread)      // .badState when it has ended already
        _ = try pm.wait()
        print("root: vfspmtest ended with \(code)")
        return code == 0 ? 0 : 1
    } catch {
        print("root: vfspmtest failed: \(error.name)")
        return 1
    }
}
