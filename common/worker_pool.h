// Worker threads for blocking work (disk reads and writes, hashing, fsync, SQLite), and strands that
// run one object's tasks in order without pinning it to a thread.
#pragma once

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
    // Runs every task already queued, then joins.
    ~WorkerPool();

    void post(Task task);
    [[nodiscard]] std::size_t size() const noexcept { return threads_.size(); }

private:
    void run();

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<Task> queue_;
    bool stopping_ = false;
    std::vector<std::thread> threads_;
};

// Tasks posted to one strand run one at a time, in posting order, on any pool thread.
class Strand : public std::enable_shared_from_this<Strand> {
public:
    static std::shared_ptr<Strand> create(WorkerPool& pool) { return std::shared_ptr<Strand>{new Strand{pool}}; }

    void post(WorkerPool::Task task);

private:
    explicit Strand(WorkerPool& pool) : pool_{pool} {}
    void run_queued();

    WorkerPool& pool_;
    std::mutex mutex_;
    std::deque<WorkerPool::Task> queue_;
    bool scheduled_ = false;
};

} // namespace minisync
