// Grouping of ready uploads by directory, and the commit of one group.
#include "group_commit.h"

#include <utility>

namespace minisync::server {

void commit_or_report(GroupCommitter& commits, std::shared_ptr<IncomingUpload> upload, Result<void> prepared,
                      GroupCommitter::Done report, Strand::Resume resume)
{
    if (!prepared.ok()) {
        report(std::move(prepared));
        resume();
        return;
    }
    commits.submit(std::move(upload), [report = std::move(report), resume = std::move(resume)](
                                          Result<void> commit_error) {
        report(std::move(commit_error));
        resume();
    });
}

void GroupCommitter::submit(std::shared_ptr<IncomingUpload> upload, Done done)
{
    const IncomingUpload::DirectoryId directory = upload->directory();
    bool schedule = false;
    {
        const std::lock_guard lock{mutex_};
        auto [it, inserted] = directories_.try_emplace(directory);
        it->second.push_back(Waiting{std::move(upload), std::move(done)});
        schedule = inserted;
    }
    // The first upload for an idle directory commits on the thread that prepared it: no hand-off, and
    // what arrives for the directory meanwhile waits for the next group.
    if (schedule) {
        run_group(directory);
    }
}

void GroupCommitter::run_group(IncomingUpload::DirectoryId directory)
{
    std::vector<Waiting> group;
    {
        const std::lock_guard lock{mutex_};
        group.swap(directories_.at(directory));
    }
    commit(group);
    bool more = false;
    {
        const std::lock_guard lock{mutex_};
        const auto it = directories_.find(directory);
        more = !it->second.empty();
        if (!more) {
            directories_.erase(it);
        }
    }
    // Queued behind other work rather than run at once, so one busy directory does not hold a thread.
    if (more) {
        pool_.post([this, directory] { run_group(directory); });
    }
}

void GroupCommitter::commit(std::vector<Waiting>& group)
{
    std::vector<Result<void>> errors(group.size());
    if (group.size() == 1 || !group[0].upload->syncfs_is_enough()) {
        for (std::size_t i = 0; i < group.size(); ++i) {
            errors[i] = group[i].upload->make_durable();
        }
    } else if (Result<void> synced = group[0].upload->sync_file_system(); !synced.ok()) {
        // One syncfs writes every file of the group and flushes the disk's cache once; an fsync each
        // would flush it once per file, and those flushes are most of what a small file costs.
        for (std::size_t i = 0; i < group.size(); ++i) {
            errors[i] = synced;
            group[i].upload->discard();
        }
    } else {
        // syncfs reports the file system's errors since group[0] was opened; each file's own write-back
        // errors since it was opened are its own to report.
        for (std::size_t i = 0; i < group.size(); ++i) {
            errors[i] = group[i].upload->check_written();
        }
    }
    // Every file is on disk before any name points at it: a crash leaves whole files or none.
    std::vector<std::size_t> renamed;
    for (std::size_t i = 0; i < group.size(); ++i) {
        if (errors[i].ok()) {
            errors[i] = group[i].upload->rename_into_place();
            if (errors[i].ok()) {
                renamed.push_back(i);
            }
        }
    }
    if (!renamed.empty()) {
        directory_syncs_.Increment();
        if (Result<void> synced = group[renamed.front()].upload->sync_directory(); !synced.ok()) {
            for (const std::size_t i : renamed) {
                errors[i] = synced;
            }
        }
    }
    for (std::size_t i = 0; i < group.size(); ++i) {
        group[i].done(std::move(errors[i]));
    }
}

} // namespace minisync::server
