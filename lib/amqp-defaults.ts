/** The broker local runs use unless told otherwise: the machine's RabbitMQ with its default account. */
export const LOCAL_AMQP_URL = 'amqp://guest:guest@127.0.0.1:5672';
