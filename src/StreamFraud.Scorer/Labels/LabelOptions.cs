using StreamFraud.Core;
using StreamFraud.Scorer.Loop;

namespace StreamFraud.Scorer.Labels;

/// <summary>The label consumer of the scorer (configuration section <c>Scorer:Labels</c>).</summary>
public sealed record LabelOptions
{
    /// <summary>Consume labels (default true). False: no label consumer and no decision records.</summary>
    public bool Enabled { get; init; } = true;

    /// <summary>Labels topic.</summary>
    public string Topic { get; init; } = Topics.FraudLabels;

    /// <summary>Dead-letter topic of labels.</summary>
    public string DlqTopic { get; init; } = Topics.FraudLabelsDlq;

    /// <summary>
    /// Consumer group of the label consumer; null: the transaction group's id with <c>-labels</c> appended. Never the
    /// transaction group itself: a member joining or leaving it would rebalance the scoring consumers.
    /// </summary>
    public string? GroupId { get; init; }

    /// <summary>Most labels per batch (one label-store call, one decision-log read).</summary>
    public int BatchSize { get; init; } = 500;

    /// <summary>Longest wait for a batch of labels to fill after its first label.</summary>
    public TimeSpan BatchTimeout { get; init; } = TimeSpan.FromMilliseconds(200);

    /// <summary>
    /// How long a decision record (<c>{prefix}d:{transaction_id}</c>) is kept: longer than the 30 days after which a
    /// label changes nothing, with room for a lagging label consumer (default 40 days).
    /// </summary>
    public TimeSpan DecisionTtl { get; init; } = TimeSpan.FromDays(40);

    /// <summary>The label consumer's group: <see cref="GroupId"/>, or <c>{transactionGroup}-labels</c>.</summary>
    public string Group(string transactionGroup) => GroupId is { Length: > 0 } id ? id : $"{transactionGroup}-labels";

    /// <summary>Validates against the scorer's other settings; returns problems naming the configuration key.</summary>
    /// <param name="scorer">The scoring loop's options (topics).</param>
    /// <param name="transactionGroup">The transaction consumers' group id.</param>
    public IReadOnlyList<string> Validate(ScorerOptions scorer, string transactionGroup)
    {
        var problems = new List<string>();
        if (!Enabled)
        {
            return problems;
        }

        if (string.IsNullOrWhiteSpace(Topic))
        {
            problems.Add("Scorer:Labels:Topic is empty (or set Scorer:Labels:Enabled false).");
        }
        else if (Topic == scorer.InputTopic)
        {
            problems.Add($"Scorer:Labels:Topic '{Topic}' equals Scorer:InputTopic: labels and transactions are different topics.");
        }

        if (string.IsNullOrWhiteSpace(DlqTopic))
        {
            problems.Add("Scorer:Labels:DlqTopic is empty.");
        }
        else if (DlqTopic == Topic || DlqTopic == scorer.InputTopic || DlqTopic == scorer.AlertsTopic)
        {
            problems.Add($"Scorer:Labels:DlqTopic '{DlqTopic}' must differ from the labels, input and alerts topics (default {Topics.FraudLabelsDlq}).");
        }

        if (GroupId is { Length: > 0 } group && (string.IsNullOrWhiteSpace(group) || group == transactionGroup))
        {
            problems.Add($"Scorer:Labels:GroupId '{group}': use a group of its own, not the transaction consumers' (default {transactionGroup}-labels).");
        }

        if (BatchSize is < 1 or > 100_000)
        {
            problems.Add($"Scorer:Labels:BatchSize={BatchSize}: use 1..100000.");
        }

        if (BatchTimeout <= TimeSpan.Zero || BatchTimeout > TimeSpan.FromMinutes(1))
        {
            problems.Add($"Scorer:Labels:BatchTimeout={BatchTimeout}: use a positive duration up to 00:01:00.");
        }

        if (DecisionTtl < TimeSpan.FromDays(1) || DecisionTtl > TimeSpan.FromDays(400))
        {
            problems.Add($"Scorer:Labels:DecisionTtl={DecisionTtl}: use 1.00:00:00..400.00:00:00; labels arrive up to 30 days after their transaction (default 40.00:00:00).");
        }

        return problems;
    }
}

