namespace StreamFraud.Training.Data;

/// <summary>
/// The notebook's evaluation protocol (<c>--split random</c>): rows are cut into non-overlapping chunks of
/// consecutive rows (7 for the notebook's sequences), each chunk labelled by its last row; a stratified, seeded
/// shuffle puts 20% of the chunks in test, then 20% of the rest in validation, and the remainder in train.
/// </summary>
/// <remarks>
/// <para>
/// Sizes follow scikit-learn's <c>train_test_split</c>: <c>test = ⌈0.2 · n⌉</c>, then <c>validation = ⌈0.2 · (n − test)⌉</c>.
/// Stratification: each set gets <c>round(positives · size / pool)</c> positive chunks (half away from zero), so its
/// fraud share is within one chunk of the pool's. Within each class the chunks are drawn by a Fisher–Yates shuffle
/// driven by SplitMix64 seeded with <c>seed</c>: the split depends only on the labels and the seed, on every runtime
/// and platform. The same protocol as the notebook, not the same indices (those came from NumPy's generator).
/// </para>
/// <para>
/// Trailing rows that do not fill a chunk are dropped (<see cref="ChunkSplit.DroppedRows"/>), as the notebook's
/// reshape to <c>(-1, 7, F)</c> requires. This is a random split, kept for comparison with the notebook: it mixes
/// time periods and leaks the future, which is why the trainer's default is the time split.
/// </para>
/// </remarks>
public static class RandomSplit
{
    /// <summary>Rows per chunk in the notebook: its sequence length.</summary>
    public const int NotebookChunkLength = 7;

    /// <summary>Share of chunks for test.</summary>
    public const double DefaultTestFraction = 0.2;

    /// <summary>Share of the non-test chunks for validation.</summary>
    public const double DefaultValidationFraction = 0.2;

    /// <summary>Splits the chunks of <paramref name="rowLabels"/>.</summary>
    /// <param name="rowLabels">Per row, <see langword="true"/> = fraud (only each chunk's last row matters).</param>
    /// <param name="seed">Seed; the same labels and seed give the same split.</param>
    /// <param name="chunkLength">Rows per chunk (1 splits rows individually).</param>
    /// <param name="testFraction">Share of chunks for test, in (0, 1).</param>
    /// <param name="validationFraction">Share of the remaining chunks for validation, in (0, 1).</param>
    /// <exception cref="ArgumentOutOfRangeException">A length or fraction is out of range.</exception>
    /// <exception cref="ArgumentException">Too few chunks for train, validation and test to each get one.</exception>
    public static ChunkSplit Split(
        ReadOnlySpan<bool> rowLabels,
        int seed,
        int chunkLength = NotebookChunkLength,
        double testFraction = DefaultTestFraction,
        double validationFraction = DefaultValidationFraction)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(chunkLength, 1);
        if (!(testFraction > 0 && testFraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(testFraction), testFraction, "must be in (0, 1)");
        }

        if (!(validationFraction > 0 && validationFraction < 1))
        {
            throw new ArgumentOutOfRangeException(nameof(validationFraction), validationFraction, "must be in (0, 1)");
        }

        var n = rowLabels.Length / chunkLength;
        var chunkLabels = new bool[n];
        var positives = new List<int>();
        var negatives = new List<int>();
        for (var c = 0; c < n; c++)
        {
            chunkLabels[c] = rowLabels[(c * chunkLength) + chunkLength - 1];
            (chunkLabels[c] ? positives : negatives).Add(c);
        }

        var testSize = (int)Math.Ceiling(testFraction * n);
        var validationSize = (int)Math.Ceiling(validationFraction * (n - testSize));
        var trainSize = n - testSize - validationSize;
        if (n == 0 || testSize == 0 || validationSize == 0 || trainSize <= 0)
        {
            throw new ArgumentException(
                $"{rowLabels.Length} rows make {n} chunks of {chunkLength}; too few for train ({Math.Max(trainSize, 0)}), " +
                $"validation ({validationSize}) and test ({testSize}) to each get one");
        }

        var rng = new SplitMix64(unchecked((ulong)seed));
        var pos = positives.ToArray();
        var neg = negatives.ToArray();
        rng.Shuffle(pos);
        rng.Shuffle(neg);

        // Stratified sizes: test from all chunks, then validation from what test left.
        var testPos = Stratum(pos.Length, n, testSize);
        var validationPos = Stratum(pos.Length - testPos, n - testSize, validationSize);

        var test = Take(pos, 0, testPos, neg, 0, testSize - testPos);
        var validation = Take(pos, testPos, validationPos, neg, testSize - testPos, validationSize - validationPos);
        var train = Take(pos, testPos + validationPos, pos.Length - testPos - validationPos,
            neg, testSize - testPos + validationSize - validationPos, neg.Length - (testSize - testPos) - (validationSize - validationPos));

        return new ChunkSplit(chunkLength, seed, rowLabels.Length - (n * chunkLength), chunkLabels, train, validation, test);
    }

    /// <summary>Positives for a set of <paramref name="size"/> drawn from a pool of <paramref name="pool"/> holding <paramref name="positives"/>.</summary>
    private static int Stratum(int positives, int pool, int size)
    {
        // positives · size / pool lies in [max(0, size − negatives), min(positives, size)], whose ends are integers,
        // so rounding stays feasible.
        var expected = (double)positives * size / pool;
        return (int)Math.Round(expected, MidpointRounding.AwayFromZero);
    }

    private static int[] Take(int[] pos, int posStart, int posCount, int[] neg, int negStart, int negCount)
    {
        var result = new int[posCount + negCount];
        Array.Copy(pos, posStart, result, 0, posCount);
        Array.Copy(neg, negStart, result, posCount, negCount);
        Array.Sort(result);
        return result;
    }

    /// <summary>SplitMix64 (Steele, Lea, Flood 2014; Vigna's reference <c>splitmix64.c</c>): fixed, portable output.</summary>
    private struct SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            var z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>Uniform in [0, bound) without modulo bias (rejection below 2^64 mod bound).</summary>
        public ulong NextBelow(ulong bound)
        {
            var threshold = (0UL - bound) % bound;
            while (true)
            {
                var r = Next();
                if (r >= threshold)
                {
                    return r % bound;
                }
            }
        }

        public void Shuffle(int[] items)
        {
            for (var i = items.Length - 1; i > 0; i--)
            {
                var j = (int)NextBelow((ulong)i + 1);
                (items[i], items[j]) = (items[j], items[i]);
            }
        }
    }
}

/// <summary>
/// A chunked train/validation/test split. Sets hold chunk indices in ascending order; chunk <c>c</c> is rows
/// <c>[c · ChunkLength, (c + 1) · ChunkLength)</c> and takes the label of its last row.
/// </summary>
public sealed class ChunkSplit
{
    private readonly bool[] _chunkLabels;

    internal ChunkSplit(int chunkLength, int seed, int droppedRows, bool[] chunkLabels, int[] train, int[] validation, int[] test)
    {
        ChunkLength = chunkLength;
        Seed = seed;
        DroppedRows = droppedRows;
        _chunkLabels = chunkLabels;
        Train = train;
        Validation = validation;
        Test = test;
    }

    /// <summary>Rows per chunk.</summary>
    public int ChunkLength { get; }

    /// <summary>The seed the split was drawn with.</summary>
    public int Seed { get; }

    /// <summary>Chunks (train + validation + test).</summary>
    public int ChunkCount => _chunkLabels.Length;

    /// <summary>Trailing rows that did not fill a chunk and belong to no set.</summary>
    public int DroppedRows { get; }

    /// <summary>Per chunk, its label: the label of its last row.</summary>
    public ReadOnlySpan<bool> ChunkLabels => _chunkLabels;

    /// <summary>Training chunks, ascending.</summary>
    public IReadOnlyList<int> Train { get; }

    /// <summary>Validation chunks, ascending.</summary>
    public IReadOnlyList<int> Validation { get; }

    /// <summary>Test chunks, ascending.</summary>
    public IReadOnlyList<int> Test { get; }

    /// <summary>First row of <paramref name="chunk"/>.</summary>
    public int FirstRow(int chunk) => chunk * ChunkLength;

    /// <summary>Last row of <paramref name="chunk"/>: the row whose label and event the chunk stands for.</summary>
    public int LastRow(int chunk) => (chunk * ChunkLength) + ChunkLength - 1;

    /// <summary>Positive chunks in <paramref name="set"/>.</summary>
    public int CountPositives(IReadOnlyList<int> set)
    {
        ArgumentNullException.ThrowIfNull(set);
        var count = 0;
        for (var i = 0; i < set.Count; i++)
        {
            if (_chunkLabels[set[i]])
            {
                count++;
            }
        }

        return count;
    }
}
