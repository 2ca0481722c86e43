import { OrderStatus } from '../../src/entities/order';
import { ORDER_TRANSITIONS, canTransition } from '../../src/services/orders';
import { assertTransition } from '../../src/services/orders/order-state';

const refusal = (status: OrderStatus, to: OrderStatus) => {
  try {
    assertTransition({ orderId: 'o-1', status }, to);
  } catch (error) {
    return error;
  }
  return null;
};

describe('order transitions', () => {
  it('lists every status; cancelled and refunded are final', () => {
    expect(Object.keys(ORDER_TRANSITIONS).sort()).toEqual(Object.values(OrderStatus).sort());
    expect(ORDER_TRANSITIONS[OrderStatus.CANCELLED]).toEqual([]);
    expect(ORDER_TRANSITIONS[OrderStatus.REFUNDED]).toEqual([]);
  });

  it('allows what the lifecycle allows and nothing else', () => {
    const allowed = Object.values(OrderStatus).flatMap((from) =>
      Object.values(OrderStatus).filter((to) => canTransition(from, to)).map((to) => `${from}→${to}`),
    );
    expect(allowed.sort()).toEqual([
      'paid→cancelled', 'paid→partially_refunded', 'paid→refunded',
      'partially_refunded→partially_refunded', 'partially_refunded→refunded',
      'placed→cancelled', 'placed→paid',
    ]);
  });

  it('refuses with INVALID_STATE, the order, its status and the status wanted', () => {
    expect(refusal(OrderStatus.PLACED, OrderStatus.PAID)).toBeNull();
    expect(refusal(OrderStatus.PAID, OrderStatus.PAID)).toMatchObject({
      code: 'INVALID_STATE', message: 'Only a placed order can be paid', details: { orderId: 'o-1', status: 'PAID', wanted: 'PAID' },
    });
    expect(refusal(OrderStatus.PARTIALLY_REFUNDED, OrderStatus.CANCELLED)).toMatchObject({
      message: 'A partially refunded order cannot be cancelled; return the remaining lines with refundOrderLines',
      details: { wanted: 'CANCELLED' },
    });
    expect(refusal(OrderStatus.REFUNDED, OrderStatus.CANCELLED)).toMatchObject({ message: 'A refunded order cannot be cancelled' });
    expect(refusal(OrderStatus.PLACED, OrderStatus.REFUNDED)).toMatchObject({
      message: 'Lines of a placed order cannot be returned; an unpaid order is cancelled instead',
      details: { status: 'PLACED', wanted: 'REFUNDED' },
    });
    expect(refusal(OrderStatus.CANCELLED, OrderStatus.REFUNDED)).toMatchObject({ message: 'Lines of a cancelled order cannot be returned' });
  });
});
