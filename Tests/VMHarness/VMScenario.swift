/// Guest-script lines that put one kernel module into a state nodes are found in. Every module of the
/// base image starts present and not loaded; prepend these lines to a script, after `. /vm/lib.sh`.
public enum VMModuleState: Sendable {
    /// The .ko is there and nothing loaded it: modprobe has to load it (with its dependencies).
    case notLoaded
    /// modules.builtin lists it and no .ko exists, as on a kernel built with it `=y`. Only kmod sees
    /// the difference: nothing is loaded and /sys/module/NAME does not appear.
    case builtIn
    /// Neither a .ko nor a modules.builtin entry: modprobe fails naming it.
    case absent
}

public enum VMScenario {
    /// The shell that puts `module` into `state` in the guest.
    public static func module(_ module: String, _ state: VMModuleState) -> String {
        switch state {
        case .notLoaded: "if vm_loaded \(module); then rmmod \(module); fi"
        case .builtIn: "vm_mark_builtin \(module)"
        case .absent: "vm_remove_module \(module)"
        }
    }
}
