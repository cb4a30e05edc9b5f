package dev.fp4.nn.data;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import org.junit.jupiter.api.Test;

class MarkovCorpusTest {
    @Test
    void entropyOfATinyChainByHand() {
        // Words "a" (2 bytes with the space) and "bb" (3 bytes). P = [[1/2, 1/2], [1, 0]].
        // π P = π: π_b = π_a/2, π_a + π_b = 1 → π = (2/3, 1/3).
        // h_word = π_a·ln 2 + π_b·0 = (2/3) ln 2; ℓ̄ = (2/3)·2 + (1/3)·3 = 7/3;
        // h_byte = (2/3 ln 2)/(7/3) = (2/7) ln 2 = 0.198042...
        MarkovCorpus c = MarkovCorpus.of(List.of("a", "bb"), new double[][] {{0.5, 0.5}, {1, 0}});
        assertArrayEquals(new double[] {2.0 / 3, 1.0 / 3}, c.stationary(), 1e-15);
        assertEquals(2.0 / 3 * Math.log(2), c.wordEntropyRate(), 1e-15);
        assertEquals(7.0 / 3, c.meanBytesPerWord(), 1e-15);
        assertEquals(2.0 / 7 * Math.log(2), c.entropyRatePerByte(), 1e-15);
        String s = new String(c.sample(60, 1), StandardCharsets.US_ASCII);
        assertFalse(s.contains("bb bb"), "bb is never followed by bb: " + s);
    }

    @Test
    void longSampleEmpiricalConditionalEntropyApproachesTheFormula() {
        MarkovCorpus c = MarkovCorpus.generate(new MarkovCorpus.Spec(40, 4, 2, 6, 3));
        byte[] sample = c.sample(3_000_000, 17);
        String[] words = new String(sample, StandardCharsets.US_ASCII).split(" ");
        int n = words.length - 1;                         // drop the possibly truncated last word
        Map<String, Map<String, Integer>> counts = new HashMap<>();
        Map<String, Integer> from = new HashMap<>();
        for (int i = 0; i + 1 < n; i++) {
            counts.computeIfAbsent(words[i], k -> new HashMap<>()).merge(words[i + 1], 1, Integer::sum);
            from.merge(words[i], 1, Integer::sum);
        }
        double h = 0;
        long pairs = n - 1;
        for (var e : counts.entrySet()) {
            double ni = from.get(e.getKey());
            for (int nij : e.getValue().values()) {
                h -= nij / (double) pairs * Math.log(nij / ni);
            }
        }
        long bytes = 0;
        for (int i = 0; i < n; i++) {
            bytes += words[i].length() + 1;
        }
        double hByte = h / (bytes / (double) n);
        // ~480k words. Plug-in bias ≈ −(160 − 40)/(2·480k) ≈ −1.3e-4 nats/word; the standard error of
        // the empirical mean of −ln p over 480k weakly dependent transitions (std ≈ 0.8 nats) is
        // ≈ 1.2e-3 nats/word before division by ℓ̄ ≈ 5.1. A tolerance of 1% of h_byte (≈ 2.3e-3
        // nats/byte, ~10 standard errors) leaves no room for a wrong formula: ignoring the space
        // (ℓ̄ − 1) or using the uniform rather than stationary average changes h_byte by > 5%.
        assertEquals(c.entropyRatePerByte(), hByte, 0.01 * c.entropyRatePerByte());
        // the vocabulary seen is the full one, all words separated by single spaces
        assertEquals(40, from.size());
        assertTrue(Arrays.stream(words).limit(n).noneMatch(String::isEmpty));
    }

    @Test
    void deterministicFromTheSeeds() {
        MarkovCorpus a = MarkovCorpus.generate(MarkovCorpus.Spec.defaults());
        MarkovCorpus b = MarkovCorpus.generate(MarkovCorpus.Spec.defaults());
        assertEquals(a.words(), b.words());
        assertEquals(a.entropyRatePerByte(), b.entropyRatePerByte(), 0);
        assertArrayEquals(a.sample(10_000, 5), b.sample(10_000, 5));
        assertFalse(Arrays.equals(a.sample(10_000, 5), a.sample(10_000, 6)));
        MarkovCorpus other = MarkovCorpus.generate(new MarkovCorpus.Spec(128, 6, 2, 6, 1));
        assertFalse(a.words().equals(other.words()));
        // stationary distribution sums to one and is a fixed point of P
        double[] pi = a.stationary();
        assertEquals(1.0, Arrays.stream(pi).sum(), 1e-12);
        for (int j = 0; j < pi.length; j++) {
            double s = 0;
            for (int i = 0; i < pi.length; i++) {
                s += pi[i] * a.transition(i, j);
            }
            assertEquals(pi[j], s, 1e-12);
        }
    }

    @Test
    void rejectsInvalidChains() {
        assertThrows(IllegalArgumentException.class, () -> MarkovCorpus.of(List.of("a", "a b"), new double[][] {{0, 1}, {1, 0}}));
        assertThrows(IllegalArgumentException.class, () -> MarkovCorpus.of(List.of("a", "a"), new double[][] {{0, 1}, {1, 0}}));
        assertThrows(IllegalArgumentException.class, () -> MarkovCorpus.of(List.of("a", "b"), new double[][] {{0.5, 0.6}, {1, 0}}));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> MarkovCorpus.of(List.of("a", "b"), new double[][] {{1, 0}, {1, 0}}));
        assertTrue(e.getMessage().contains("not irreducible"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> new MarkovCorpus.Spec(1, 1, 2, 6, 0));
    }
}
