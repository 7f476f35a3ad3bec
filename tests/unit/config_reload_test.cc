// plan_reload: which running folders a re-read configuration keeps, removes and adds, and when the
// excludes changed, without a daemon.
#include "config_reload.h"

#include <gtest/gtest.h>

namespace minisync::agent {
namespace {

FolderSpec spec(std::string name, std::string path, std::vector<std::string> excludes = {})
{
    return FolderSpec{std::move(path), std::move(name), std::move(excludes)};
}

std::size_t run(FolderTable& table, FolderSpec folder_spec)
{
    Folder folder;
    folder.spec = std::move(folder_spec);
    return table.append(std::move(folder));
}

AgentSettings configured(std::vector<FolderSpec> folders, std::vector<std::string> excludes = {})
{
    AgentSettings settings;
    settings.folders = std::move(folders);
    settings.excludes = std::move(excludes);
    return settings;
}

std::vector<std::string> names(const std::vector<FolderSpec>& folders)
{
    std::vector<std::string> names;
    for (const FolderSpec& folder : folders) {
        names.push_back(folder.name);
    }
    return names;
}

TEST(PlanReloadTest, TheSameConfigurationChangesNothing)
{
    FolderTable running;
    run(running, spec("docs", "/d", {"*.tmp"}));
    run(running, spec("photos", "/p"));
    const ReloadPlan plan =
        plan_reload(running, {"*.bak"}, configured({spec("docs", "/d", {"*.tmp"}), spec("photos", "/p")}, {"*.bak"}));
    EXPECT_TRUE(plan.removed.empty());
    EXPECT_TRUE(plan.added.empty());
    EXPECT_TRUE(plan.own_excludes.empty());
    EXPECT_FALSE(plan.excludes_changed);
}

TEST(PlanReloadTest, AFolderGoneFromTheConfigurationIsRemovedAndANewOneAddedInOrder)
{
    FolderTable running;
    run(running, spec("docs", "/d"));
    run(running, spec("photos", "/p"));
    const ReloadPlan plan = plan_reload(
        running, {}, configured({spec("music", "/m"), spec("photos", "/p"), spec("videos", "/v")}));
    EXPECT_EQ(plan.removed, (std::vector<std::size_t>{0}));
    EXPECT_EQ(names(plan.added), (std::vector<std::string>{"music", "videos"}));
    EXPECT_FALSE(plan.excludes_changed);
}

TEST(PlanReloadTest, ANewPathOrANewNameIsARemovalAndAnAddition)
{
    FolderTable running;
    run(running, spec("docs", "/d"));
    run(running, spec("photos", "/p"));
    const ReloadPlan plan = plan_reload(running, {}, configured({spec("docs", "/elsewhere"), spec("pictures", "/p")}));
    EXPECT_EQ(plan.removed, (std::vector<std::size_t>{0, 1}));
    ASSERT_EQ(plan.added.size(), 2U);
    EXPECT_EQ(plan.added[0].path, "/elsewhere");
    EXPECT_EQ(plan.added[1].name, "pictures");
}

TEST(PlanReloadTest, ARemovedFolderIsNeitherRemovedAgainNorKeptButAddedAnew)
{
    FolderTable running;
    const std::size_t docs = run(running, spec("docs", "/d"));
    running[docs].removed = true;
    const ReloadPlan plan = plan_reload(running, {}, configured({spec("docs", "/d")}));
    EXPECT_TRUE(plan.removed.empty());
    EXPECT_EQ(names(plan.added), (std::vector<std::string>{"docs"}));
}

TEST(PlanReloadTest, AKeptFoldersOwnExcludesChangeInPlace)
{
    FolderTable running;
    run(running, spec("docs", "/d", {"*.tmp"}));
    run(running, spec("photos", "/p"));
    const ReloadPlan plan =
        plan_reload(running, {}, configured({spec("docs", "/d"), spec("photos", "/p", {"*.raw"})}));
    EXPECT_TRUE(plan.removed.empty());
    EXPECT_TRUE(plan.added.empty());
    ASSERT_EQ(plan.own_excludes.size(), 2U);
    EXPECT_EQ(plan.own_excludes[0].folder, 0U);
    EXPECT_TRUE(plan.own_excludes[0].excludes.empty());
    EXPECT_EQ(plan.own_excludes[1].folder, 1U);
    EXPECT_EQ(plan.own_excludes[1].excludes, (std::vector<std::string>{"*.raw"}));
    EXPECT_TRUE(plan.excludes_changed);
}

TEST(PlanReloadTest, NewGlobalExcludesChangeTheExcludes)
{
    FolderTable running;
    run(running, spec("docs", "/d"));
    const ReloadPlan plan = plan_reload(running, {"*.tmp"}, configured({spec("docs", "/d")}, {"*.tmp", "*.bak"}));
    EXPECT_TRUE(plan.own_excludes.empty());
    EXPECT_TRUE(plan.excludes_changed);
}

TEST(PlanReloadTest, AnAddedFoldersExcludesAreNotAChangeOfExcludes)
{
    FolderTable running;
    run(running, spec("docs", "/d"));
    const ReloadPlan plan = plan_reload(running, {}, configured({spec("docs", "/d"), spec("new", "/n", {"*.tmp"})}));
    EXPECT_EQ(names(plan.added), (std::vector<std::string>{"new"}));
    EXPECT_FALSE(plan.excludes_changed);
}

} // namespace
} // namespace minisync::agent
