// Stop signals for daemons: SIGTERM and SIGINT are taken by one thread with
// sigwait rather than by a handler, so that the reaction (drain, save, exit)
// runs as ordinary code.
//
//   int main() {
//     base::BlockStopSignals();           // first: every later thread inherits the mask
//     ... start threads ...
//     int sig = base::WaitForStopSignal(); // on the thread that shuts down
//   }
//
// Thread safety: BlockStopSignals() before any thread starts; WaitForStopSignal()
// from one thread at a time.
#pragma once

namespace base {

// Blocks SIGTERM and SIGINT in the calling thread (threads it starts later
// inherit it) and ignores SIGPIPE: a peer hanging up mid-write is an error
// return, never the death of the process. An ignored SIGINT (a shell's `&`)
// is restored to the default first, or sigwait would never see it.
void BlockStopSignals();

// Waits for SIGTERM or SIGINT and returns its number.
int WaitForStopSignal();

// "SIGTERM", "SIGINT", or the number as text.
const char* SignalName(int sig);

}  // namespace base
