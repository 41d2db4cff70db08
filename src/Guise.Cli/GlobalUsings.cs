// System.Net has a TransportContext too; ours is the one meant everywhere in this library.
global using TransportContext = Guise.Transports.TransportContext;
