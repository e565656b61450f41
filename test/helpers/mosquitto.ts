// The broker process helper lives with the transport (the MQTT benchmark uses it too).
export { Mosquitto, MOSQUITTO_MISSING, freePort, mosquittoBinary } from '../../transports/mqtt/mosquitto_process.js';
