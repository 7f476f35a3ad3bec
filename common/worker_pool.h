// Worker threads for blocking work (disk reads and writes, hashing, fsync, SQLite), and strands that
// run one object's tasks in order without pinning it to a thread.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

namespace minisync {

class WorkerPool {
public:
    using Task = std::function<void()>;

    explicit WorkerPool(std::size_t threads);
    WorkerPool(const WorkerPool&) = delete;
    WorkerPool& operator=(const WorkerPool&) = delete;
    ~WorkerPool() { shutdown(); }

    // Drops the tasks still queued, lets running ones finish, joins. A daemon stopping must exit within
    // seconds, and whatever was queued (hashing, writes of an interrupted upload) is redone or resumed
    // later. Tasks posted afterwards are dropped.
    void shutdown();
    void post(Task task);
    [[nodiscard]] std::size_t size() const noexcept { return threads_.size(); }
    // Long tasks (hashing a large file, walking a large tree) check this and give up early.
    [[nodiscard]] const std::atomic<bool>& stop_requested() const noexcept { return stop_requested_; }

private:
    void run();

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Task> queue_;
    bool stopping_ = false;
    std::atomic<bool> stop_requested_{false};
    std::vector<std::thread> threads_;
};

// Tasks posted to one strand run one at a time, in posting order, on any pool thread.
class Strand : public std::enable_shared_from_this<Strand> {
public:
    // Ends a held task: the strand goes on with its queue. Called exactly once, from any thread.
    using Resume = std::function<void()>;
    using HeldTask = std::function<void(Resume)>;

    static std::shared_ptr<Strand> create(WorkerPool& pool) { return std::shared_ptr<Strand>{new Strand{pool}}; }

    void post(WorkerPool::Task task);
    // For a task that hands the end of its work to someone else (a group commit): nothing else runs on
    // the strand until that work calls resume, so what follows on the strand still sees it finished.
    void post_held(HeldTask task);

private:
    struct Queued {
        WorkerPool::Task task;
        HeldTask held;
    };

    explicit Strand(WorkerPool& pool) : pool_{pool} {}
    void enqueue(Queued item);
    void resume();
    void run_queued();

    WorkerPool& pool_;
    std::mutex mutex_;
    std::deque<Queued> queue_;
    bool scheduled_ = false; // also while a held task has not resumed
};

} // namespace minisync
