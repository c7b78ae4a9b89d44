using System.Runtime.CompilerServices;

// The feature tests check DeterministicMath and the v1 constants directly.
[assembly: InternalsVisibleTo("StreamFraud.Core.Tests")]
