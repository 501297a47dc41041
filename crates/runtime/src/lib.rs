//! limitcheck's OCI runtime: the containers whose limits limitcheck measures.
//!
//! A container here is a real one: its own namespaces (pid, mount, uts, ipc, network, user,
//! cgroup), its own root filesystem reached with `pivot_root`, its own cgroup with the spec's
//! `linux.resources` applied before the user process runs, and runc's default hardening
//! (capabilities, masked and read-only paths, a read-only cgroup mount). The lifecycle is the
//! OCI one with the real create/start split, and state lives in `state.json` under the runtime
//! root (default `/run/limitcheck/<id>/`). The `lcrun` binary puts runc's command line on top,
//! so that tools written for runc can drive it.
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
pub mod console;
pub mod container;
pub mod devices;
mod error;
pub mod exec;
pub mod hooks;
pub mod hostfs;
pub mod init;
pub mod isolation;
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
