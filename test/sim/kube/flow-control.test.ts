import { FlowControl } from '../../../sim/kube/flow-control';

describe('FlowControl (API priority and fairness, one priority level)', () => {
  test('serves up to its seats, queues up to its queue length, rejects the rest; a freed seat goes to the first in the queue', async () => {
    // Arrange
    const apf = new FlowControl({ seats: 1, queueLength: 1 });
    const first = await apf.acquire();
    let secondSeated = false;
    const second = apf.acquire().then((seat) => {
      secondSeated = true;
      return seat;
    });

    // Act
    const third = await apf.acquire();
    await Promise.resolve();
    const seatedBeforeRelease = secondSeated;
    first!();
    first!(); // a second release changes nothing
    const secondSeat = await second;

    // Assert
    expect(third).toBeUndefined();
    expect(apf.rejected).toBe(1);
    expect(seatedBeforeRelease).toBe(false);
    expect(secondSeat).toBeDefined();
    expect(apf.inFlight).toBe(1);
    secondSeat!();
    expect(apf.inFlight).toBe(0);
    expect(apf.peakQueued).toBe(1);
  });
});
