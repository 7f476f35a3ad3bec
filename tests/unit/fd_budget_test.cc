// size_limits(): the limits the server runs with, sized from its open-file limit unless given.
#include "fd_budget.h"

#include <gtest/gtest.h>
#include <sys/resource.h>

namespace minisync::server {
namespace {

TEST(FdBudgetTest, AGenerousLimitGivesTheFullDefaults)
{
    const ServerSettings settings; // 4 workers
    const ServerLimits limits = size_limits(settings, 65536);
    EXPECT_EQ(limits.connections, 1024U);
    EXPECT_EQ(limits.handshakes, 256U);
    EXPECT_EQ(limits.connections_per_client, 16U);
    EXPECT_EQ(limits.handshakes_per_address, 8U);
    EXPECT_EQ(limits.open_uploads_per_client, 512U);
    // What the sockets leave, two descriptors an upload.
    EXPECT_EQ(limits.open_uploads, (65536 - FixedFds - 4 * FdsPerWorker - 1024 - 256) / 2);
    EXPECT_LE(limits.fds_needed(settings.workers), 65536U);
    EXPECT_GE(limits.fds_needed(settings.workers), 65536U - 1);
}

TEST(FdBudgetTest, ALowLimitShrinksEveryLimitToFitIt)
{
    const ServerSettings settings;
    for (const std::uint64_t fd_limit : {1024U, 4096U, 20000U}) {
        SCOPED_TRACE(fd_limit);
        const ServerLimits limits = size_limits(settings, fd_limit);
        EXPECT_LE(limits.fds_needed(settings.workers), fd_limit);
        EXPECT_GE(limits.connections, 1U);
        EXPECT_GE(limits.open_uploads, limits.connections) << "room for at least one upload per connection";
        EXPECT_LE(limits.open_uploads_per_client, limits.open_uploads / 4);
        EXPECT_GE(limits.open_uploads_per_client, 1U);
    }
    // 1024, the soft limit most shells and systemd's default give.
    const ServerLimits low = size_limits(settings, 1024);
    EXPECT_EQ(low.handshakes, 118U);
    EXPECT_EQ(low.connections, 236U);
    EXPECT_EQ(low.open_uploads, 295U);
    EXPECT_EQ(low.open_uploads_per_client, 73U);
}

TEST(FdBudgetTest, MoreWorkersLeaveLessForTheRest)
{
    ServerSettings few;
    few.workers = 1;
    ServerSettings many;
    many.workers = 256;
    EXPECT_GT(size_limits(few, 2048).open_uploads, size_limits(many, 2048).open_uploads);
    EXPECT_LE(size_limits(many, 2048).fds_needed(many.workers), 2048U);
}

TEST(FdBudgetTest, ALimitTooLowForAnythingStillLeavesOneOfEach)
{
    const ServerSettings settings;
    for (const std::uint64_t fd_limit : {0U, 16U, 80U}) {
        SCOPED_TRACE(fd_limit);
        const ServerLimits limits = size_limits(settings, fd_limit);
        EXPECT_EQ(limits.connections, 1U);
        EXPECT_EQ(limits.handshakes, 1U);
        EXPECT_EQ(limits.open_uploads, 1U);
        EXPECT_EQ(limits.open_uploads_per_client, 1U);
        EXPECT_GT(limits.fds_needed(settings.workers), fd_limit);
    }
}

TEST(FdBudgetTest, AnUnlimitedLimitGivesTheCeilings)
{
    const ServerLimits limits = size_limits(ServerSettings{}, RLIM_INFINITY);
    EXPECT_EQ(limits.connections, 1024U);
    EXPECT_EQ(limits.handshakes, 256U);
    EXPECT_EQ(limits.open_uploads_per_client, 512U);
    EXPECT_GT(limits.open_uploads, 1'000'000U);
    EXPECT_NE(describe(limits, 4).find("limit unlimited"), std::string::npos) << describe(limits, 4);
}

TEST(FdBudgetTest, LimitsGivenAlwaysWinEvenWhenTheyDoNotFit)
{
    ServerSettings settings;
    settings.max_connections = 5000;
    settings.max_handshakes = 10;
    settings.max_open_uploads = 100'000;
    settings.max_open_uploads_per_client = 1000;
    settings.max_connections_per_client = 3;
    const ServerLimits limits = size_limits(settings, 1024);
    EXPECT_EQ(limits.connections, 5000U);
    EXPECT_EQ(limits.handshakes, 10U);
    EXPECT_EQ(limits.open_uploads, 100'000U);
    EXPECT_EQ(limits.open_uploads_per_client, 1000U);
    EXPECT_EQ(limits.connections_per_client, 3U);
    EXPECT_GT(limits.fds_needed(settings.workers), 1024U);
}

TEST(FdBudgetTest, UnsetLimitsAreSizedAroundTheGivenOnes)
{
    ServerSettings settings;
    settings.max_connections = 100;
    const ServerLimits limits = size_limits(settings, 4096);
    EXPECT_EQ(limits.connections, 100U);
    // What the 100 connections leave goes to uploads.
    EXPECT_EQ(limits.open_uploads, (4096 - FixedFds - 4 * FdsPerWorker - limits.handshakes - 100) / 2);
    settings.max_open_uploads = 40;
    EXPECT_EQ(size_limits(settings, 4096).open_uploads_per_client, 10U);
}

TEST(FdBudgetTest, TheStartLineNamesEveryLimit)
{
    const ServerLimits limits = size_limits(ServerSettings{}, 1024);
    EXPECT_EQ(describe(limits, 4),
              "open files: limit 1024, at most 1024 in use with 236 connections (16 per client), 118 handshakes "
              "(8 per address) and 295 open uploads (73 per client)");
}

} // namespace
} // namespace minisync::server
