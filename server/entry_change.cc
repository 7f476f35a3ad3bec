// The one strand task of a removal, directory, symlink or rename, and the strands it waits behind.
#include "entry_change.h"

#include <cassert>
#include <iterator>
#include <utility>

namespace minisync::server {

EntryChange::EntryChange(Admission&& admission)
    : ClientRequest{std::move(admission.path)}, destination_{std::move(admission.destination)}
{
    if (destination_) {
        run_after_.push_back(destination_->strand());
    }
}

void EntryChange::run_after(std::vector<std::shared_ptr<Strand>>&& strands)
{
    assert(state_ == State::Admitted);
    run_after_.insert(run_after_.end(), std::make_move_iterator(strands.begin()), std::make_move_iterator(strands.end()));
}

void EntryChange::apply(Work work, AppliedReport report)
{
    assert(state_ == State::Admitted);
    state_ = State::Applying;
    auto task = [work = std::move(work), report = std::move(report)] { report(work()); };
    // The task passes through each strand it must wait for, in turn, on its way to its own.
    WorkerPool::Task step = [strand = strand(), task = std::move(task)]() mutable { strand->post(std::move(task)); };
    for (auto it = run_after_.rbegin(); it != run_after_.rend(); ++it) {
        step = [strand = *it, next = std::move(step)]() mutable { strand->post(std::move(next)); };
    }
    step();
}

} // namespace minisync::server
