import KPSwitch

extension SnapshotReport: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var text = style.ok("snapshot written: ") + bundle + "\n"
        text += "  host \(manifest.host), kernel \(manifest.kernel), scope \(manifest.scope), \(manifest.createdAt)\n"
        for file in manifest.files {
            text += "  \(file.name)  \(file.size) bytes  sha256:\(file.sha256.prefix(12))\n"
        }
        for skip in manifest.skipped {
            text += style.dim("  skipped \(skip.name): \(skip.reason)") + "\n"
        }
        return text
    }
}

extension SnapshotVerification: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        style.ok("intact: ") + "\(bundle) (\(files) files match manifest.json)\n"
    }
}

extension SnapshotSummary: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var text = "bundle \(bundle)\n"
        text += "  host \(manifest.host), kernel \(manifest.kernel), scope \(manifest.scope), taken \(manifest.createdAt) "
        text += "by kpswitch \(manifest.kpswitchVersion)\n"
        text += problems.isEmpty
            ? "  " + style.ok("intact") + ": every SHA-256 matches\n"
            : problems.map { "  " + style.error("damaged") + ": \($0)\n" }.joined()
        for item in programmed {
            let unit = item.file == "ipvs.json" ? "virtual servers" : "service ports"
            text += "  \(item.file): \(item.servicePorts) \(unit), \(item.endpoints) endpoints\n"
        }
        for object in clusterObjects {
            text += "  \(object.file): \(object.kind) \(object.namespace)/\(object.name), resourceVersion \(object.resourceVersion)\n"
        }
        for file in manifest.files {
            text += style.dim("  file \(file.name) (\(file.size) bytes)") + "\n"
        }
        for skip in manifest.skipped {
            text += style.dim("  not captured \(skip.name): \(skip.reason)") + "\n"
        }
        return text
    }
}

extension NodeSnapshotReport: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        let done = nodes.count - notSnapshotted.count
        var text = "node snapshot \(id): \(done) of \(nodes.count) nodes snapshotted, taken \(createdAt), "
        text += "kept in ConfigMap \(namespace)/\(configMap)\n"
        for node in nodes {
            guard let bundle = node.bundle else {
                text += "  " + style.error("not snapshotted") + " \(node.node): \(node.reason ?? "no reason given")\n"
                continue
            }
            text += "  " + style.ok("snapshotted") + " \(node.node): \(bundle.directory)"
            if let services = bundle.ipvsServices, let destinations = bundle.ipvsDestinations {
                text += ", IPVS \(services) virtual servers, \(destinations) real servers"
            }
            text += "\n"
            for file in bundle.files {
                text += "    \(file.name)  \(file.size) bytes  \(file.lines) lines\(file.rules.map { "  \($0) rules" } ?? "")\n"
            }
            for skip in bundle.skipped {
                text += style.dim("    not captured \(skip.name): \(skip.reason)") + "\n"
            }
        }
        if let note { text += style.dim("  \(note)") + "\n" }
        return text
    }
}

extension RestoreReport: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        var text = dryRun ? "would restore from \(bundle) (taken on \(host)); every file passed --test:\n"
            : style.ok("restored ") + "from \(bundle) (taken on \(host)):\n"
        for step in steps {
            text += "  \(step.file) with \(step.command)\n"
        }
        if steps.isEmpty { text += "  nothing: the bundle holds no restorable node state\n" }
        return text
    }
}

extension CleanupReport: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        let verb = dryRun ? "would remove" : "removed"
        var lines: [String] = []
        lines += ipvsServices.map { "IPVS virtual server \($0)" }
        lines += jumps.map { "\($0.store) \($0.table): rule -A \($0.chain) \($0.rule)" }
        lines += chains.map { "\($0.store) \($0.table): chain \($0.chain)" }
        lines += ipsets.map { "ipset \($0)" }
        lines += nftTables.map { "nft \($0)" }
        lines += links.map { "link \($0)" }
        var text = lines.isEmpty
            ? "no \(mode.rawValue) leftovers found\n"
            : "\(verb) \(mode.rawValue) leftovers (\(lines.count)):\n" + lines.map { "  \($0)\n" }.joined()
        for item in keptIPVSServices {
            text += style.dim("  kept IPVS virtual server \(item) (not kube-proxy's)") + "\n"
        }
        for item in notChecked {
            text += style.warning("  not checked: ") + item + "\n"
        }
        return text
    }
}

extension NodeCleanupReport: TextRenderable {
    func renderText(_ style: TextStyle) -> String {
        let done = nodes.count - notCleaned.count
        var text = "\(dryRun ? "dry run, " : "")\(mode.rawValue) cleanup: \(done) of \(nodes.count) nodes \(dryRun ? "checked" : "cleaned"); "
        text += "kube-proxy runs in \(runningMode.rawValue) mode, whose state stays\n"
        for node in nodes {
            if node.cleaned {
                text += "  " + style.ok(dryRun ? "checked" : "cleaned") + " \(node.node): "
            } else {
                text += "  " + style.error("not cleaned") + " \(node.node): \(node.reason ?? "no reason given")\n"
                if let command = node.command {
                    text += "    run as root on \(node.node): \(command)\(node.alternative.map { ", \($0)" } ?? "")\n"
                }
                guard node.cleanup != nil else { continue }
                text += "    before that: "
            }
            text += node.cleanup?.renderText(style).split(separator: "\n", omittingEmptySubsequences: false)
                .enumerated().map { $0.offset == 0 ? String($0.element) : ($0.element.isEmpty ? "" : "    " + $0.element) }
                .joined(separator: "\n") ?? "\n"
        }
        return text
    }
}
