package dev.fp4.nn.train;

import dev.fp4.nn.Parameter;
import java.util.List;

/**
 * The replicas of a data-parallel run as one of them sees it: each replica holds the same
 * parameters, computes the gradients of its own micro-batches, and the group sums those gradients
 * so that every replica takes the same optimizer step.
 *
 * <p>A {@link Trainer} given a group of {@code size()} replicas runs, on replica {@code rank()},
 * the global micro-batches {@code rank·A … rank·A + A − 1} of every step, A = accumulation /
 * size. The contract that keeps the replicas bit-identical:
 * <ul>
 * <li>{@link #reduce} is called once per parameter per step, by every replica, as soon as that
 * parameter's local gradient is final (the order may differ between replicas);</li>
 * <li>after {@link #awaitReductions(List)} returns, every replica's {@link Parameter#grad()} holds
 * g<sub>0</sub> + g<sub>1</sub> + … + g<sub>size−1</sub>, added in FP32 left to right in rank
 * order (so with A = 1 the sum is the one a single process forms when it accumulates the same
 * micro-batches in order), the same bits on every replica;</li>
 * <li>{@link #allGather} returns every replica's values in rank order, the same on every
 * replica.</li>
 * </ul>
 * Implementations bound every wait and report an unreachable or failed peer with an exception
 * naming it.
 */
public interface ReplicaGroup {
    /** This replica's index, 0 ≤ rank &lt; size. */
    int rank();

    /** Number of replicas. */
    int size();

    /**
     * Starts summing {@code p}'s gradient over the group. The gradient must not be changed until
     * {@link #awaitReductions(List)} returns; the work may run in the background meanwhile.
     */
    void reduce(Parameter p);

    /**
     * Waits until every parameter passed to {@link #reduce} this step holds the group's sum.
     *
     * @param all the model's parameters in their fixed order; those not yet passed to
     *            {@link #reduce} this step (after a failed forward, say) are reduced first, so
     *            that every replica completes the exchange
     */
    void awaitReductions(List<Parameter> all);

    /** Every replica's values (each replica may pass a different length), in rank order. */
    double[][] allGather(double[] values);

    /** The group of one: nothing to exchange. */
    static ReplicaGroup single() {
        return Single.INSTANCE;
    }

    /** The group of one replica. */
    enum Single implements ReplicaGroup {
        /** The one instance. */
        INSTANCE;

        @Override
        public int rank() {
            return 0;
        }

        @Override
        public int size() {
            return 1;
        }

        @Override
        public void reduce(Parameter p) {
        }

        @Override
        public void awaitReductions(List<Parameter> all) {
        }

        @Override
        public double[][] allGather(double[] values) {
            return new double[][] {values.clone()};
        }
    }
}
