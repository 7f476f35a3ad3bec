// What each outcome of a job's request means: what is recorded and counted (RequestLedger), what is
// logged, and how the job goes on, as a verdict the scheduler carries out. Loop thread only.
#pragma once

#include "folder_table.h"
#include "job_table.h"
#include "request.h"
#include "request_ledger.h"

namespace minisync::agent {

// How a job goes on after an event of its request.
enum class Verdict {
    Continue,         // the request runs on
    Done,             // the job ends
    Requeue,          // the job ends and its path is queued again at once
    RetryLater,       // the job ends and its path is queued again after RetryQueue's delay
    RenameApplied,    // the rename ended applied: the state database follows it
    RenameNotApplied, // the rename ended not applied, for good: the new path is sent as new (RenameFallback)
};

class OutcomeJudge {
public:
    // A rename answered BUSY (or another error that may pass) is sent again this many times, after
    // RetryQueue::backoff_rounds each (5, 10, 20, then 40 s: about 2.5 min in all, longer than a stale
    // connection of this client holds its paths on the server before the idle timeout frees them). Then it
    // is given up as if refused for good.
    static constexpr std::uint32_t MaxRenameRetries = 6;

    OutcomeJudge(const FolderTable& folders, RequestLedger& ledger, JobTable& jobs)
        : folders_{folders}, ledger_{ledger}, jobs_{jobs}
    {
    }

    // May change what the job's item asks for next (hash first, a tree removal first).
    Verdict judge(Job& job, Outcome outcome);

private:
    Verdict judge_rename(Job& job, Outcome outcome);
    Verdict judge_refusal(Job& job);

    const FolderTable& folders_;
    RequestLedger& ledger_;
    JobTable& jobs_;
};

} // namespace minisync::agent
