//! limitcheck's OCI runtime: the containers whose limits limitcheck measures.
//!
//! A container here is a real one: its own namespaces (pid, mount, uts, ipc, network, user,
//! cgroup), its own root filesystem reached with `pivot_root`, its own cgroup with the spec's
//! `linux.resources` applied before the user process runs, and runc's default hardening
//! (capabilities, masked and read-only paths, a read-only cgroup mount). The lifecycle is the
//! OCI one with the real create/start split: whatever can fail before the user process runs
//! (capabilities, user, mounts) fails `create`, and a process that still cannot run (execve,
//! a startContainer hook) fails `start`. State lives in `state.json` under the runtime root
//! (default `/run/limitcheck/<id>/`), written first, so a killed `create` is still listed and
//! removed by `delete --force`. The `lcrun` binary puts runc's command line on top, so that
//! tools written for runc can drive it.
//!
//! A config never makes lcrun act on the caller's namespaces ([`isolation`]): without a mount
//! namespace of its own the root is entered with chroot and nothing is mounted (a `pivot_root`
//! there would swap the caller's root), and a hostname, sysctl or id map that would land in
//! the caller's namespace is refused with the field and the fix. Fields lcrun does not
//! enforce (seccomp, AppArmor, SELinux, some resources) are warned about on `create`
//! ([`spec::not_enforced`]).
//!
//! ```no_run
//! use limitcheck_runtime::{spec, CreateOptions, Runtime};
//!
//! limitcheck_runtime::init::run_if_init(); // first thing in main: the binary is also the init
//! let rt = Runtime::new(limitcheck_runtime::state::DEFAULT_ROOT);
//! let bundle = spec::load_bundle("/tmp/bundle".as_ref())?;
//! let mut c = rt.create("demo", &bundle, CreateOptions::default())?;
//! c.start()?;
//! let exit = c.wait(&[])?;
//! c.delete(false)?;
//! println!("exited with {}", exit.shell_code());
//! # Ok::<(), limitcheck_runtime::RuntimeError>(())
//! ```

#![deny(missing_docs)]

pub mod args;
pub mod bundle;
pub mod console;
pub mod container;
pub mod devices;
pub mod engine;
mod error;
pub mod exec;
pub mod hooks;
pub mod hostfs;
pub mod imagefs;
pub mod init;
pub mod isolation;
pub mod oci_cli;
pub mod process;
pub mod rootfs;
pub mod spawn;
pub mod spec;
pub mod state;
pub mod syscall;

pub use container::{
    block_signals, Container, CreateOptions, ExecOptions, ExecProcess, ExitInfo, Runtime,
};
pub use error::{Result, RuntimeError};
pub use state::{State, Status};

/// Re-exported so callers build specs with the same version.
pub use oci_spec;
