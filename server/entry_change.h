// A change to a directory entry in one frame: REMOVE, MAKE_DIR, MAKE_SYMLINK or RENAME. The work runs
// once on the strand of its path, after the work queued on any strand it must wait for (a rename's
// destination; for MAKE_DIR, everything below the directory, whose work would move its mtime). Loop
// thread only; the work runs on a worker and reports through the function it is given.
//
// States:
//   Admitted --apply()--> Applying (the change is made and made durable)
// Ends (the object is dropped by its table): from Applying with REMOVED or DONE, or ERROR; from
// Admitted with ERROR (a symlink target refused); from any state with ABORT, SUSPEND, or the connection
// closing. DATA and COMMIT have no place in any state.
#pragma once

#include "fs_error.h"
#include "client_request.h"
#include "worker_pool.h"

#include <functional>
#include <memory>
#include <optional>
#include <vector>

namespace minisync::server {

class EntryChange final : public ClientRequest {
public:
    enum class State { Admitted, Applying };
    using Work = std::function<Result<void>()>;
    using AppliedReport = std::function<void(Result<void>)>;

    // A rename's destination lock comes with the admission, and its strand's work runs first.
    explicit EntryChange(Admission&& admission);

    [[nodiscard]] State state() const noexcept { return state_; }
    // Before apply(): the work waits, too, for what is queued on these strands now.
    void run_after(std::vector<std::shared_ptr<Strand>>&& strands);
    // Admitted -> Applying.
    void apply(Work work, AppliedReport report);

private:
    std::optional<HeldPath> destination_;
    // In the order the work passes through them on its way to its own strand.
    std::vector<std::shared_ptr<Strand>> run_after_;
    State state_ = State::Admitted;
};

} // namespace minisync::server
