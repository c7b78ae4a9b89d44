using System.Text.Json.Nodes;
using StreamFraud.Scoring.Trees;

namespace StreamFraud.Scoring.Tests.Trees;

/// <summary>
/// Reading XGBoost's JSON model: what a libxgboost-trained model holds, and every model the managed evaluator would
/// evaluate differently refused with its reason (never approximated), malformed trees refused as invalid.
/// </summary>
public sealed class XgbForestTests
{
    [Fact]
    public void Parse_TrainedModel_TreesNodesAndBaseScore()
    {
        using var booster = TreeModels.Train(rounds: 12, change: p => p with { BaseScore = 0.25 });
        var forest = XgbForest.Parse(booster.SaveModelToBuffer("json"));

        Assert.Equal(12, forest.Trees.Count);
        Assert.Equal(1, forest.TreesPerRound);
        Assert.Equal(TreeModels.Columns, forest.Features);
        Assert.Equal("binary:logistic", forest.Objective);
        Assert.Equal(0.25f, forest.BaseScore);
        Assert.Equal(MathF.Log(0.25f / 0.75f), forest.BaseMargin, 6);
        Assert.All(forest.Trees, t => Assert.InRange(t.Depth, 1, 6));
        // Both default directions were learnt from the training data's missing values.
        var defaults = forest.Trees.SelectMany(t => t.Left.Select((l, k) => (l, k)).Where(n => n.l >= 0).Select(n => t.DefaultLeft[n.k])).ToList();
        Assert.Contains(true, defaults);
        Assert.Contains(false, defaults);
    }

    [Theory]
    [InlineData("objective", "objective reg:squarederror")]
    [InlineData("multiclass", "a multi-class or multi-target model")]
    [InlineData("dart", "booster dart")]
    [InlineData("categorical", "tree 1 has categorical splits")]
    [InlineData("vector-leaf", "vector leaves")]
    [InlineData("groups", "trees of several output groups")]
    public void Parse_ModelEvaluatedDifferently_Unsupported(string change, string reason)
    {
        using var booster = TreeModels.Train(rounds: 3);
        var json = TreeModels.EditedJson(booster, model =>
        {
            var learner = model["learner"]!;
            var gbtree = learner["gradient_booster"]!;
            switch (change)
            {
                case "objective":
                    learner["objective"]!["name"] = "reg:squarederror";
                    break;
                case "multiclass":
                    learner["learner_model_param"]!["num_class"] = "3";
                    break;
                case "dart":
                    gbtree["name"] = "dart";
                    break;
                case "categorical":
                    var types = TreeModels.TreesOf(model)[1]!["split_type"]!.AsArray();
                    types[0] = 1;
                    break;
                case "vector-leaf":
                    gbtree["model"]!["gbtree_model_param"]!["size_leaf_vector"] = "2";
                    break;
                default:
                    gbtree["model"]!["tree_info"]!.AsArray()[2] = 1;
                    break;
            }
        });

        var e = Assert.Throws<UnsupportedTreeModelException>(() => XgbForest.Parse(json));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("child-out-of-range", "out of range or reached twice")]
    [InlineData("cycle", "out of range or reached twice")]
    [InlineData("feature", "splits on feature 99 of 8")]
    [InlineData("lengths", "node arrays of different lengths")]
    [InlineData("not-json", "not a readable XGBoost JSON model")]
    public void Parse_MalformedModel_InvalidData(string change, string reason)
    {
        using var booster = TreeModels.Train(rounds: 2);
        var json = change == "not-json"
            ? "{\"learner\": 3}"u8.ToArray()
            : TreeModels.EditedJson(booster, model =>
            {
                var tree = TreeModels.TreesOf(model)[0]!.AsObject();
                switch (change)
                {
                    case "child-out-of-range":
                        tree["left_children"]!.AsArray()[0] = 5000;
                        break;
                    case "cycle":
                        tree["right_children"]!.AsArray()[0] = 0;
                        break;
                    case "feature":
                        tree["split_indices"]!.AsArray()[0] = 99;
                        break;
                    default:
                        tree["default_left"]!.AsArray().RemoveAt(0);
                        break;
                }
            });

        var e = Assert.Throws<InvalidDataException>(() => XgbForest.Parse(json));
        Assert.Contains(reason, e.Message, StringComparison.Ordinal);
    }
}
