//! Messages between the runtime and the container init (one JSON document per SEQPACKET
//! message, optionally carrying a file descriptor), terminals, and runc's `--console-socket`.

use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd, RawFd};
use std::path::Path;

use nix::sys::socket::{
    recvmsg, sendmsg, socketpair, AddressFamily, ControlMessage, ControlMessageOwned, MsgFlags,
    SockFlag, SockType,
};
use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Result, RuntimeError};

/// The largest message (an init config with a big spec fits easily).
const MAX_MSG: usize = 1 << 20;

/// A connected pair of SEQPACKET sockets, close-on-exec.
pub fn seqpacket_pair() -> Result<(OwnedFd, OwnedFd)> {
    socketpair(
        AddressFamily::Unix,
        SockType::SeqPacket,
        None,
        SockFlag::SOCK_CLOEXEC,
    )
    .map_err(RuntimeError::sys("socketpair"))
}

/// Sends one message, with `fd` attached if given.
pub fn send_msg<T: Serialize>(sock: RawFd, msg: &T, fd: Option<RawFd>) -> Result<()> {
    let data = serde_json::to_vec(msg).expect("message serializes");
    let fds = fd.map(|f| [f]);
    let cmsg: Vec<ControlMessage> = fds.iter().map(|f| ControlMessage::ScmRights(f)).collect();
    sendmsg::<()>(sock, &[IoSlice::new(&data)], &cmsg, MsgFlags::empty(), None)
        .map_err(RuntimeError::sys("send a message to the container init"))?;
    Ok(())
}

/// Receives one message and the fd it carries, if any. `Ok(None)` when the peer closed.
pub fn recv_msg<T: DeserializeOwned>(sock: RawFd) -> Result<Option<(T, Option<OwnedFd>)>> {
    let mut buf = vec![0u8; MAX_MSG];
    let mut space = nix::cmsg_space!([RawFd; 1]);
    let (n, fd) = {
        let mut iov = [IoSliceMut::new(&mut buf)];
        let m = recvmsg::<()>(sock, &mut iov, Some(&mut space), MsgFlags::MSG_CMSG_CLOEXEC)
            .map_err(RuntimeError::sys(
                "receive a message from the container init",
            ))?;
        let mut fd = None;
        for c in m
            .cmsgs()
            .map_err(RuntimeError::sys("read control messages"))?
        {
            if let ControlMessageOwned::ScmRights(fds) = c {
                // SAFETY: the kernel just installed these fds in this process for us.
                fd = fds.first().map(|f| unsafe { OwnedFd::from_raw_fd(*f) });
            }
        }
        (m.bytes, fd)
    };
    if n == 0 {
        return Ok(None);
    }
    let msg = serde_json::from_slice(&buf[..n]).map_err(|e| {
        RuntimeError::Init(format!("unreadable message from the container init: {e}"))
    })?;
    Ok(Some((msg, fd)))
}

/// Opens a new pty in the current mount namespace's devpts; returns (master, slave, slave path).
pub fn open_pty() -> Result<(OwnedFd, OwnedFd, String)> {
    use nix::fcntl::OFlag;
    use nix::pty::{grantpt, posix_openpt, ptsname_r, unlockpt};
    let master = posix_openpt(OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC)
        .map_err(RuntimeError::sys("open /dev/ptmx"))?;
    grantpt(&master).map_err(RuntimeError::sys("grantpt"))?;
    unlockpt(&master).map_err(RuntimeError::sys("unlockpt"))?;
    let name = ptsname_r(&master).map_err(RuntimeError::sys("ptsname"))?;
    let slave = nix::fcntl::open(
        name.as_str(),
        OFlag::O_RDWR | OFlag::O_NOCTTY | OFlag::O_CLOEXEC,
        nix::sys::stat::Mode::empty(),
    )
    .map_err(RuntimeError::sys(format!("open {name}")))?;
    // SAFETY: both fds were just opened and are owned here.
    let master = unsafe { OwnedFd::from_raw_fd(master.into_raw_fd()) };
    let slave = unsafe { OwnedFd::from_raw_fd(slave) };
    Ok((master, slave, name))
}

use std::os::fd::IntoRawFd;

/// Gives this process (a new session's leader) a terminal made in its devpts: the master goes
/// to the runtime over `sock` (an [`InitMsg::Console`](crate::init::InitMsg::Console)
/// message), sized to `size` if given; stdin, stdout and stderr become the slave, which becomes
/// the controlling terminal.
pub fn attach_terminal(sock: RawFd, size: Option<&oci_spec::runtime::Box>) -> Result<()> {
    let (master, slave, name) = open_pty()?;
    if let Some(size) = size {
        let ws = libc::winsize {
            ws_row: size.height() as u16,
            ws_col: size.width() as u16,
            ws_xpixel: 0,
            ws_ypixel: 0,
        };
        // SAFETY: TIOCSWINSZ with a pointer to a local winsize.
        unsafe { libc::ioctl(master.as_raw_fd(), libc::TIOCSWINSZ, &ws) };
    }
    send_msg(
        sock,
        &crate::init::InitMsg::Console { name },
        Some(master.as_raw_fd()),
    )?;
    for i in 0..3 {
        nix::unistd::dup2(slave.as_raw_fd(), i)
            .map_err(RuntimeError::sys("connect stdio to the terminal"))?;
    }
    // SAFETY: TIOCSCTTY on our stdin, which is the pty slave; we lead a new session.
    if unsafe { libc::ioctl(0, libc::TIOCSCTTY, 0) } != 0 {
        return Err(RuntimeError::sys("make the terminal the controlling one")(
            nix::errno::Errno::last(),
        ));
    }
    Ok(())
}

/// Sends a pty master to a `--console-socket`, as runc does (the pty's name as the data).
pub fn send_to_console_socket(path: &Path, master: &OwnedFd, name: &str) -> Result<()> {
    let sock = std::os::unix::net::UnixStream::connect(path)
        .map_err(RuntimeError::io("connect to the console socket", path))?;
    let fds = [master.as_raw_fd()];
    sendmsg::<()>(
        sock.as_raw_fd(),
        &[IoSlice::new(name.as_bytes())],
        &[ControlMessage::ScmRights(&fds)],
        MsgFlags::empty(),
        None,
    )
    .map_err(RuntimeError::sys(format!(
        "send the pty to {}",
        path.display()
    )))?;
    Ok(())
}

/// Copies between this process's stdin/stdout and a pty master until the container's side
/// closes, putting a terminal on stdin into raw mode meanwhile. Returns when the output is
/// drained; the input copy ends with the process.
pub fn relay(master: OwnedFd) -> std::thread::JoinHandle<()> {
    use nix::sys::termios::{cfmakeraw, tcgetattr, tcsetattr, SetArg};
    let stdin = std::io::stdin();
    let saved = tcgetattr(&stdin).ok();
    if let Some(t) = &saved {
        let mut raw = t.clone();
        cfmakeraw(&mut raw);
        let _ = tcsetattr(&stdin, SetArg::TCSANOW, &raw);
    }
    let mut input = std::fs::File::from(master.try_clone().expect("dup the pty master"));
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdin = std::io::stdin().lock();
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || input.write_all(&buf[..n]).is_err() {
                break;
            }
        }
    });
    let mut output = std::fs::File::from(master);
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        let mut stdout = std::io::stdout();
        // EIO once the last slave fd closes: the container is gone.
        while let Ok(n) = output.read(&mut buf) {
            if n == 0 || stdout.write_all(&buf[..n]).is_err() {
                break;
            }
            let _ = stdout.flush();
        }
        if let Some(t) = saved {
            let _ = tcsetattr(std::io::stdin(), SetArg::TCSANOW, &t);
        }
    })
}
