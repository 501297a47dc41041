//! The last steps before the user process runs: capabilities, user and groups,
//! `noNewPrivileges`, umask, working directory.

use caps::{CapSet, Capability, CapsHashSet};
use nix::unistd::{Gid, Uid};
use oci_spec::runtime::{Capabilities, Process};

use crate::error::{Result, RuntimeError};

/// Converts the spec's capability names (`CAP_CHOWN`) to the kernel's.
pub fn to_caps(set: &Capabilities) -> CapsHashSet {
    set.iter()
        .filter_map(|c| serde_json::to_value(c).ok())
        .filter_map(|v| v.as_str().and_then(|s| s.parse::<Capability>().ok()))
        .collect()
}

/// Applies the process's identity and privileges to this process.
pub fn finalize(process: &Process) -> Result<()> {
    let caps_spec = process.capabilities().as_ref();
    let set = |s: Option<&Capabilities>| s.map(to_caps).unwrap_or_default();
    let bounding = set(caps_spec.and_then(|c| c.bounding().as_ref()));
    let capserr = |what: &str| {
        let what = what.to_string();
        move |e: caps::errors::CapsError| RuntimeError::Init(format!("{what}: {e}"))
    };
    // The bounding set can only shrink, and only while we still hold CAP_SETPCAP.
    for c in caps::all() {
        if !bounding.contains(&c) && caps::has_cap(None, CapSet::Bounding, c).unwrap_or(false) {
            caps::drop(None, CapSet::Bounding, c).map_err(capserr("drop from the bounding set"))?;
        }
    }
    let user = process.user();
    // SAFETY: prctl with integer arguments.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 1, 0, 0, 0) };
    let gids: Vec<Gid> = user
        .additional_gids()
        .iter()
        .flatten()
        .map(|g| Gid::from_raw(*g))
        .collect();
    // setgroups is refused in a user namespace whose setgroups is "deny"; groups then stay empty.
    if let Err(e) = nix::unistd::setgroups(&gids) {
        if !gids.is_empty() {
            return Err(RuntimeError::sys("setgroups")(e));
        }
    }
    let gid = Gid::from_raw(user.gid());
    nix::unistd::setresgid(gid, gid, gid).map_err(RuntimeError::sys(format!("setresgid {gid}")))?;
    let uid = Uid::from_raw(user.uid());
    nix::unistd::setresuid(uid, uid, uid).map_err(RuntimeError::sys(format!("setresuid {uid}")))?;
    // SAFETY: as above.
    unsafe { libc::prctl(libc::PR_SET_KEEPCAPS, 0, 0, 0, 0) };
    // capset(2) wants effective ⊆ permitted after every call, and a new inheritable set needs
    // CAP_SETPCAP: inheritable first, then effective, then permitted.
    let inheritable = set(caps_spec.and_then(|c| c.inheritable().as_ref()));
    caps::set(None, CapSet::Inheritable, &inheritable)
        .map_err(capserr("set inheritable capabilities"))?;
    let effective = set(caps_spec.and_then(|c| c.effective().as_ref()));
    caps::set(None, CapSet::Effective, &effective)
        .map_err(capserr("set effective capabilities"))?;
    let permitted = set(caps_spec.and_then(|c| c.permitted().as_ref()));
    caps::set(None, CapSet::Permitted, &permitted)
        .map_err(capserr("set permitted capabilities"))?;
    let _ = caps::clear(None, CapSet::Ambient);
    for c in set(caps_spec.and_then(|c| c.ambient().as_ref())) {
        // Ambient needs the capability permitted and inheritable; runc ignores failures too.
        let _ = caps::raise(None, CapSet::Ambient, c);
    }
    if process.no_new_privileges() == Some(true) {
        // SAFETY: prctl with integer arguments.
        if unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) } != 0 {
            return Err(RuntimeError::sys("prctl PR_SET_NO_NEW_PRIVS")(
                nix::errno::Errno::last(),
            ));
        }
    }
    nix::sys::stat::umask(nix::sys::stat::Mode::from_bits_truncate(
        user.umask().unwrap_or(0o022),
    ));
    nix::unistd::chdir(process.cwd()).map_err(RuntimeError::sys(format!(
        "chdir {}",
        process.cwd().display()
    )))?;
    reset_signals();
    Ok(())
}

/// Gives the user process default signal dispositions and an empty mask: an ignored signal
/// (Rust runtimes ignore SIGPIPE) would otherwise stay ignored across execve.
pub fn reset_signals() {
    for sig in 1..libc::SIGRTMAX() {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            // SAFETY: resetting a disposition to the default has no preconditions.
            unsafe { libc::signal(sig, libc::SIG_DFL) };
        }
    }
    let _ = nix::sys::signal::SigSet::empty().thread_set_mask();
}
