// Root judgements on workers, the transitions between present, missing and suspended, and the rechecks.
#include "root_guard.h"

#include <spdlog/spdlog.h>

#include <utility>

namespace minisync::agent {
namespace {

using State = RootVerdict::State;

bool present(const Folder& folder)
{
    return folder.root_state == State::Present;
}

} // namespace

std::string describe_root_problem(const std::string& folder_name, const RootVerdict& verdict)
{
    std::string text = verdict.reason + "; nothing is removed on the server";
    if (verdict.state == State::Suspended) {
        text += "; it resumes when that directory is back, or, if this one is the folder now, after "
                "'minisyncctl resync --accept-root " +
                folder_name + "'";
    } else {
        text += "; it is synced once it is there";
    }
    return text;
}

RootGuard::RootGuard(TimerMaker& timers, LoopInbox& inbox, WorkerPool& pool, FolderTable& folders,
                     FolderWatcher& watcher, RequestScheduler& scheduler, StateWriter& state_writer,
                     std::function<void(std::size_t)> state_changed)
    : inbox_{inbox},
      pool_{pool},
      folders_{folders},
      watcher_{watcher},
      scheduler_{scheduler},
      state_writer_{state_writer},
      state_changed_{std::move(state_changed)},
      recheck_timer_{timers.make([this] { judge_all_not_present(); })}
{
}

void RootGuard::start()
{
    for (const Folder& folder : folders_) {
        if (!folder.removed && !present(folder)) {
            SPDLOG_ERROR("folder={}: not synced: {}", folder.spec.name, folder.root_problem);
        }
    }
    arm_recheck();
}

void RootGuard::stop()
{
    stopped_ = true;
    recheck_timer_->cancel();
}

void RootGuard::admit(std::size_t folder)
{
    // Judged as not there until found: apply() then starts watching it, as for a root that came back.
    Folder& admitted = folders_[folder];
    admitted.root_state = State::Missing;
    admitted.root_problem = "its root is being looked at";
    scheduler_.update_hold(folder);
    judge(folder);
}

void RootGuard::doubt(std::size_t folder, const std::string& what)
{
    if (folders_[folder].removed || judging_.contains(folder)) {
        return;
    }
    SPDLOG_WARN("folder={}: {}; looking at its root again", folders_[folder].spec.name, what);
    judge(folder);
}

void RootGuard::accept(std::size_t folder, std::function<void(Result<void>)> done)
{
    pool_.post([this, &inbox = inbox_, folder, path = folders_[folder].spec.path, done = std::move(done)]() mutable {
        std::optional<FolderRoot> found = identify_folder_root(path);
        inbox.post([this, folder, path, found = std::move(found), done = std::move(done)] {
            Folder& accepted = folders_[folder];
            if (accepted.removed) {
                done(Error{ErrorCode::NotFound, "the folder was removed from the configuration"});
                return;
            }
            if (!found) {
                done(Error{ErrorCode::NotFound, "no directory at '" + path + "' to accept as the folder's root"});
                return;
            }
            SPDLOG_WARN("folder={}: '{}' accepted as the folder's root (device {} inode {}); everything in it is "
                        "offered to the server, and nothing the server holds is removed for what it lacks",
                        accepted.spec.name, path, found->identity.device, found->identity.inode);
            if (accepted.watched) {
                watcher_.stop_watching(folder);
            }
            accepted.root.identity = found->identity;
            accepted.recorded_root = found->identity;
            state_writer_.record_root(accepted.state_id, found->identity);
            StateChange forget;
            forget.kind = StateChange::Kind::ForgottenFolder;
            forget.folder_id = accepted.state_id;
            state_writer_.record(std::move(forget));
            scheduler_.drop_pending(folder);
            accepted.root_state = State::Present;
            accepted.root_problem.clear();
            scheduler_.update_hold(folder);
            watcher_.start_watching(folder, FolderWatcher::Against::Server);
            state_changed_(folder);
            done(Result<void>{});
        });
    });
}

void RootGuard::judge(std::size_t folder)
{
    if (stopped_) {
        return;
    }
    judging_.insert(folder);
    const Folder& judged = folders_[folder];
    pool_.post([this, &inbox = inbox_, folder, path = judged.spec.path, recorded = judged.recorded_root] {
        std::optional<FolderRoot> found = identify_folder_root(path);
        RootVerdict verdict = judge_root(path, found, recorded);
        inbox.post([this, folder, found = std::move(found), verdict = std::move(verdict)] {
            judging_.erase(folder);
            apply(folder, found, verdict);
        });
    });
}

void RootGuard::recheck_all()
{
    for (std::size_t folder = 0; folder < folders_.size(); ++folder) {
        if (!folders_[folder].removed && !judging_.contains(folder)) {
            judge(folder);
        }
    }
}

void RootGuard::judge_all_not_present()
{
    for (std::size_t folder = 0; folder < folders_.size(); ++folder) {
        if (!folders_[folder].removed && !present(folders_[folder]) && !judging_.contains(folder)) {
            judge(folder);
        }
    }
}

void RootGuard::apply(std::size_t folder, const std::optional<FolderRoot>& found, const RootVerdict& verdict)
{
    Folder& judged = folders_[folder];
    if (judged.removed || stopped_) {
        return;
    }
    const State before = judged.root_state;
    if (verdict.state == State::Present) {
        judged.root.identity = found->identity;
        if (verdict.record_identity) {
            judged.recorded_root = found->identity;
            state_writer_.record_root(judged.state_id, found->identity);
        }
        if (before == State::Present) {
            return;
        }
        judged.root_state = State::Present;
        judged.root_problem.clear();
        SPDLOG_INFO("folder={}: '{}' is there{}; watching it and comparing it with what was recorded",
                    judged.spec.name, judged.spec.path,
                    verdict.record_identity ? " (its first directory, now recorded)" : "");
        scheduler_.update_hold(folder);
        watcher_.start_watching(folder);
        state_changed_(folder);
        return;
    }
    std::string problem = describe_root_problem(judged.spec.name, verdict);
    if (before != verdict.state || problem != judged.root_problem) {
        judged.root_state = verdict.state;
        judged.root_problem = std::move(problem);
        SPDLOG_ERROR("folder={}: not synced: {}", judged.spec.name, judged.root_problem);
        if (before == State::Present) {
            watcher_.stop_watching(folder);
            scheduler_.update_hold(folder);
        }
        state_changed_(folder);
    }
    arm_recheck();
}

void RootGuard::arm_recheck()
{
    if (stopped_ || recheck_timer_->armed()) {
        return;
    }
    for (const Folder& folder : folders_) {
        if (!folder.removed && !present(folder)) {
            recheck_timer_->arm(RecheckInterval);
            return;
        }
    }
}

} // namespace minisync::agent
