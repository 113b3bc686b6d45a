// `vfspmtest`: root starts vfs and pm from the initfs (vfs with its Receiver, pm with its Receiver and a
// Sender to vfs), then the vfspmtest program with the Senders of both and the images of pmchild and vfs;
// its exit code is the run's result. Until root starts servers from their manifests, this is how vfs
// and pm run.

func runVFSPMTests(_ startup: Startup) -> Int32 {
    do throws(SysError) {
        var images: [Handle] = []
        for name in ["vfs", "pm", "vfspmtest", "pmchild"] {
            guard let (image, _) = try Programs.image(named: name, startup) else {
                print("root: vfspmtest needs bin/\(name) in the initfs")
                return 1
            }
            images.append(image)
        }
        let vfsReceiver = try receiverCreate(), pmReceiver = try receiverCreate()
        let vfsSender = try senderCreate(vfsReceiver), pmSender = try senderCreate(pmReceiver)
        let rootWord = startup.value(of: .root).map { "root=" + $0 } ?? ""
        let vfs = try Spawn.start(image: images[0], name: "vfs", commandLine: rootWord, give: [vfsReceiver])
        let pm = try Spawn.start(image: images[1], name: "pm", give: [pmReceiver, vfsSender])
        let tests = try Spawn.start(image: images[2], name: "vfspmtest", give: [vfsSender, pmSender, images[3], images[0]])
        let code = try tests.wait()
        _ = try? threadStop(pm.thread)      // .badState when it has ended already
        _ = try? threadStop(vfs.thread)
        _ = try pm.wait()
        _ = try vfs.wait()
        print("root: vfspmtest ended with \(code)")
        return code == 0 ? 0 : 1
    } catch {
        print("root: vfspmtest failed: \(error.name)")
        return 1
    }
}
