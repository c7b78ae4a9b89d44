using System.Collections.Concurrent;
using System.Diagnostics;
using StreamFraud.Core;

namespace StreamFraud.Training.Lstm;

/// <summary>
/// Trains the two-layer LSTM with mini-batch Adam, optional positive oversampling, early stopping on validation
/// average precision (best weights restored) and learning-rate halving on plateaus. Deterministic for a seed.
/// </summary>
/// <remarks>
/// Each batch is cut into fixed chunks of <see cref="ChunkRows"/> sequences; chunks run in parallel, each on one core
/// with its own buffers and its own dropout stream (seed, epoch, batch, chunk), and their gradients are summed in chunk
/// order. The partition depends only on the batch, so the trained weights are bit-identical for any thread count.
/// </remarks>
public sealed class LstmTrainer
{
    /// <summary>Sequences per parallel work item (a batch of 256 is four chunks).</summary>
    internal const int ChunkRows = 64;

    /// <summary>Creates a trainer with <paramref name="options"/> (defaults: the notebook's settings).</summary>
    public LstmTrainer(LstmOptions? options = null)
    {
        Options = options ?? new LstmOptions();
        Options.Validate();
    }

    /// <summary>The settings in use.</summary>
    public LstmOptions Options { get; }

    /// <summary>
    /// Trains on <paramref name="training"/>, monitoring <paramref name="validation"/> (which must hold both classes).
    /// <paramref name="progress"/> is called on the calling thread after every epoch.
    /// </summary>
    /// <exception cref="ArgumentException">Shapes disagree with the options or validation lacks a class.</exception>
    /// <exception cref="OperationCanceledException"><paramref name="cancellationToken"/> was cancelled (checked between batches).</exception>
    public LstmTrainingResult Train(
        LstmDataset training, LstmDataset validation, Action<EpochReport>? progress = null,
        CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(training);
        ArgumentNullException.ThrowIfNull(validation);
        var o = Options;
        foreach (var set in new[] { training, validation })
        {
            if (set.SequenceLength != o.SequenceLength || set.FeatureCount != training.FeatureCount)
            {
                throw new ArgumentException(
                    $"Datasets must have {o.SequenceLength} steps and the same feature count; got {set.SequenceLength} × {set.FeatureCount}.");
            }
        }

        if (training.Count == 0)
        {
            throw new ArgumentException("The training set is empty.", nameof(training));
        }

        if (validation.Positives == 0 || validation.Positives == validation.Count)
        {
            throw new ArgumentException("The validation set needs both fraud and legitimate windows.", nameof(validation));
        }

        var layout = new LstmLayout(training.FeatureCount, o.SequenceLength, o.Hidden1, o.Hidden2);
        layout.Validate();
        var parameters = new float[layout.ParameterCount];
        LstmInitializer.Initialize<float>(layout, parameters, o.Seed);
        var network = new LstmNetwork<float>(layout, parameters, o.Dropout1, o.Dropout2);
        var parallel = new ParallelOptions
        {
            MaxDegreeOfParallelism = o.MaxDegreeOfParallelism ?? Environment.ProcessorCount,
            CancellationToken = cancellationToken,
        };

        var maxChunks = (o.BatchSize + ChunkRows - 1) / ChunkRows;
        var workspaces = new LstmWorkspace<float>[maxChunks];
        var gradients = new float[maxChunks][];
        var dLogits = new float[maxChunks][];
        var chunkLoss = new double[maxChunks];
        for (var c = 0; c < maxChunks; c++)
        {
            workspaces[c] = new LstmWorkspace<float>(layout, ChunkRows, true);
            gradients[c] = workspaces[c].Gradient;
            dLogits[c] = new float[ChunkRows];
        }

        var inferencePool = new ConcurrentBag<LstmWorkspace<float>>();
        var adam = new AdamOptimizer(layout.ParameterCount, o.AdamBeta1, o.AdamBeta2, o.AdamEpsilon);
        var validationScores = new float[validation.Count];
        var trainingScores = o.EvaluateTrainingSet ? new float[training.Count] : [];
        var seed = (ulong)(uint)o.Seed;

        var history = new List<EpochReport>();
        var best = new float[parameters.Length];
        parameters.CopyTo(best, 0);
        var bestAp = double.NegativeInfinity;
        var bestEpoch = 0;
        var sinceBest = 0;
        var plateauBest = double.NegativeInfinity;
        var sincePlateauBest = 0;
        var learningRate = o.LearningRate;
        var stopReason = "max epochs";

        for (var epoch = 1; epoch <= o.MaxEpochs; epoch++)
        {
            var epochClock = Stopwatch.StartNew();
            var order = EpochOrder(training.Labels, o.OversampleRatio, seed, epoch);
            var batchScores = new float[order.Length];
            double lossSum = 0;
            var batches = (order.Length + o.BatchSize - 1) / o.BatchSize;
            for (var b = 0; b < batches; b++)
            {
                cancellationToken.ThrowIfCancellationRequested();
                var batchStart = b * o.BatchSize;
                var batchLength = Math.Min(o.BatchSize, order.Length - batchStart);
                var chunks = (batchLength + ChunkRows - 1) / ChunkRows;
                var epochIndex = (ulong)epoch;
                var batchIndex = (ulong)b;
                Parallel.For(0, chunks, parallel, c =>
                {
                    var start = batchStart + (c * ChunkRows);
                    var rows = Math.Min(ChunkRows, batchStart + batchLength - start);
                    var samples = order.AsSpan(start, rows);
                    var ws = workspaces[c];
                    ws.Load(training.Windows, samples);
                    ws.Forward(network, true, Xoshiro256.Combine(seed, epochIndex, batchIndex, (ulong)c));
                    double loss = 0;
                    var dl = dLogits[c];
                    for (var r = 0; r < rows; r++)
                    {
                        var logit = ws.Logits[r];
                        loss += LstmLoss.Evaluate(o.Loss, o.FocalGamma, o.FocalAlpha, logit, training.Labels[samples[r]] != 0, out var d);
                        dl[r] = (float)(d / batchLength);
                        batchScores[start + r] = (float)LstmLoss.Sigmoid(logit);
                    }

                    chunkLoss[c] = loss;
                    ws.Backward(network, dl.AsSpan(0, rows));
                });

                for (var c = 0; c < chunks; c++)
                {
                    lossSum += chunkLoss[c];
                }

                adam.Step(parameters, gradients, chunks, learningRate, parallel);
                network.Refresh(parallel);
            }

            var trainingTime = epochClock.Elapsed;
            var loss = lossSum / order.Length;

            LstmModel.PredictCore(network, validation.Windows, validationScores, parallel, inferencePool);
            var validationAp = AveragePrecision.Compute(validationScores, validation.Labels);
            double trainAp;
            if (o.EvaluateTrainingSet)
            {
                LstmModel.PredictCore(network, training.Windows, trainingScores, parallel, inferencePool);
                trainAp = AveragePrecision.Compute(trainingScores, training.Labels);
            }
            else
            {
                var orderLabels = new byte[order.Length];
                for (var i = 0; i < order.Length; i++)
                {
                    orderLabels[i] = training.Labels[order[i]];
                }

                trainAp = AveragePrecision.Compute(batchScores, orderLabels);
            }

            var improved = validationAp > bestAp;
            if (improved)
            {
                bestAp = validationAp;
                bestEpoch = epoch;
                sinceBest = 0;
                parameters.CopyTo(best, 0);
            }
            else
            {
                sinceBest++;
            }

            var report = new EpochReport(
                epoch, o.MaxEpochs, loss, trainAp, validationAp, learningRate, order.Length,
                order.Length / Math.Max(trainingTime.TotalSeconds, 1e-9), trainingTime, epochClock.Elapsed, improved);
            history.Add(report);
            progress?.Invoke(report);

            if (!double.IsFinite(loss))
            {
                stopReason = "non-finite loss";
                break;
            }

            if (sinceBest >= o.EarlyStoppingPatience)
            {
                stopReason = "early stopping";
                break;
            }

            // ReduceLROnPlateau (Keras semantics: min_delta on the monitor, counter reset after each cut).
            if (validationAp > plateauBest + o.LearningRateMinDelta)
            {
                plateauBest = validationAp;
                sincePlateauBest = 0;
            }
            else if (++sincePlateauBest >= o.LearningRatePatience)
            {
                if (learningRate > o.MinLearningRate)
                {
                    learningRate = Math.Max(learningRate * o.LearningRateFactor, o.MinLearningRate);
                }

                sincePlateauBest = 0;
            }
        }

        if (bestEpoch == 0)
        {
            bestEpoch = 1;
        }

        return new LstmTrainingResult(new LstmModel(layout, best), history, bestEpoch, stopReason);
    }

    /// <summary>
    /// The epoch's sample order: every window once, plus positives repeated up to <paramref name="ratio"/> × negatives
    /// (whole copies of every positive, the remainder drawn without replacement), shuffled; all from (seed, epoch).
    /// </summary>
    internal static int[] EpochOrder(byte[] labels, double? ratio, ulong seed, int epoch)
    {
        var rng = new Xoshiro256(Xoshiro256.Combine(seed, 0x0DE5, (ulong)epoch));
        var positives = new List<int>();
        var negatives = 0;
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] != 0)
            {
                positives.Add(i);
            }
            else
            {
                negatives++;
            }
        }

        var extra = 0L;
        if (ratio is > 0 && positives.Count > 0)
        {
            var target = (long)Math.Round(ratio.Value * negatives);
            extra = Math.Max(0, target - positives.Count);
        }

        if (labels.Length + extra > Array.MaxLength)
        {
            throw new ArgumentException("Oversampling would make the epoch larger than an array can hold.");
        }

        var order = new int[labels.Length + extra];
        for (var i = 0; i < labels.Length; i++)
        {
            order[i] = i;
        }

        var at = labels.Length;
        if (extra > 0)
        {
            var copies = extra / positives.Count;
            var remainder = (int)(extra % positives.Count);
            for (var k = 0; k < copies; k++)
            {
                foreach (var p in positives)
                {
                    order[at++] = p;
                }
            }

            var pool = positives.ToArray();
            for (var k = 0; k < remainder; k++)
            {
                var j = k + rng.NextIntUnbiased(pool.Length - k);
                (pool[k], pool[j]) = (pool[j], pool[k]);
                order[at++] = pool[k];
            }
        }

        rng.Shuffle(order.AsSpan());
        return order;
    }
}
